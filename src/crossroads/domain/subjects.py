"""Keyed hashes of identifiers, so that indexes and logs never hold a person's number in clear."""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

SUBJECT_KEY_BYTES = 16  # 128 bits: no collision to fear among a few hundred million persons


class SubjectHasher:
    """HMAC-SHA256 of the normalised identifier under a hub secret, truncated to 16 bytes.

    Changing the secret re-keys every directory entry and audit index: see docs/deployment.md.
    """

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the subject hash secret must be at least 16 bytes")
        self.secret = secret  # kept so that a parsing process can rebuild the same hasher
        self._inner = hmac.new(secret, digestmod=hashlib.sha256)
        # A bulk file names each person on several consecutive lines, and an exchange names the
        # same person to several steps: a per-hasher cache spares the repeated HMACs.
        self.key = lru_cache(maxsize=65536)(self._key)  # type: ignore[method-assign]

    def _key(self, normalised_identifier: str) -> bytes:
        mac = self._inner.copy()
        mac.update(normalised_identifier.encode("ascii"))
        return mac.digest()[:SUBJECT_KEY_BYTES]

    def key(self, normalised_identifier: str) -> bytes:  # replaced per instance by a cached _key
        return self._key(normalised_identifier)

    def hex(self, normalised_identifier: str) -> str:
        return self.key(normalised_identifier).hex()
