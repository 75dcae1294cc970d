"""The citizen's identifier in their session cookie, sealed (AES-256-GCM) so that the cookie,
which the browser keeps and sends, never shows it.

The citizen's personal page asks the authentic sources about the person, which needs the number
itself; the session keeps the keyed hash (for their list) and this sealed copy, whose key is
derived from the session secret, so every hub process that can read the session can open it.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_INFO = b"crossroads citizen identifier in the session"
_NONCE_BYTES = 12


class IdentifierSeal:
    def __init__(self, session_secret: str) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
            session_secret.encode()
        )
        self._aead = AESGCM(key)

    def seal(self, identifier: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, identifier.encode(), _INFO)
        return base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, sealed: str) -> str | None:
        """The identifier, or None when `sealed` is not one this hub sealed."""
        try:
            raw = base64.urlsafe_b64decode(sealed.encode())
            plain = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _INFO)
        except (InvalidTag, ValueError):
            return None
        return plain.decode()
