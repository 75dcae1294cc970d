"""Pseudonyms: how a person (or an employer) is named inside the statistics warehouse.

A pseudonym is an HMAC-SHA256 under the warehouse's own key, separate from the subject hash
secret of the audit log and the directory: it links a person's records across sources inside the
warehouse, and is useless outside it (neither the identifier nor the hub's subject key can be
computed back from it, nor matched against the audit log's index without the warehouse key).
The warehouse never receives an identifier in clear: an INSS becomes the hub's subject key first
(the same `SubjectHasher` the directory uses), and the subject key becomes the pseudonym.
"""

from __future__ import annotations

import hashlib
import hmac

PSEUDONYM_BYTES = 12  # 96 bits: no collision among a few hundred million persons and employers


class Pseudonymiser:
    def __init__(self, warehouse_key: bytes) -> None:
        if len(warehouse_key) < 16:
            raise ValueError("the warehouse key must be at least 16 bytes")
        self._inner = hmac.new(warehouse_key, digestmod=hashlib.sha256)

    def _mac(self, domain: bytes, value: bytes) -> str:
        mac = self._inner.copy()
        mac.update(domain + value)
        return mac.digest()[:PSEUDONYM_BYTES].hex()

    def person(self, subject_key: bytes) -> str:
        """The pseudonym of the person whose hub subject key (SubjectHasher.key) is given (the
        extraction remembers each for the length of a run, not this object for its life)."""
        return self._mac(b"person:", subject_key)

    def employer(self, enterprise_number: str) -> str:
        return self._mac(b"employer:", enterprise_number.encode())

    def decision(self, decision_id: str) -> str:
        """A rights decision's name in the warehouse: its changes (taken, answered) link to
        one another there, and not to the decision the hub and the institutions know."""
        return self._mac(b"decision:", decision_id.encode())
