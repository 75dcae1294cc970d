"""Keyed hashes of identifiers, so that indexes and logs never hold a person's number in clear."""

from __future__ import annotations

import hashlib
import hmac

SUBJECT_KEY_BYTES = 16  # 128 bits: no collision to fear among a few hundred million persons


class SubjectHasher:
    """HMAC-SHA256 of the normalised identifier under a hub secret, truncated to 16 bytes.

    Changing the secret re-keys every directory entry and audit index: see docs/deployment.md.
    """

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the subject hash secret must be at least 16 bytes")
        self._inner = hmac.new(secret, digestmod=hashlib.sha256)

    def key(self, normalised_identifier: str) -> bytes:
        mac = self._inner.copy()
        mac.update(normalised_identifier.encode("ascii"))
        return mac.digest()[:SUBJECT_KEY_BYTES]

    def hex(self, normalised_identifier: str) -> str:
        return self.key(normalised_identifier).hex()
