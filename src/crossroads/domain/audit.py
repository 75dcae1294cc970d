"""Audit records and their canonical encoding.

The canonical encoding is what the audit log's Merkle tree hashes as a leaf (`domain/merkle.py`;
checked from outside by `verifier.py`), so it must be byte-for-byte reproducible: JSON with
sorted keys, no insignificant white space, UTF-8 (orjson's compact output with OPT_SORT_KEYS,
which is that), integers only (latency in microseconds, time in milliseconds since the epoch).
Absent values are left out rather than written as null, so that adding an optional field later
does not change earlier leaves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

_UNSAFE = re.compile(r"[^A-Za-z0-9 .:_@/+=-]")


# Not frozen: a frozen dataclass sets each of its 18 fields through `object.__setattr__`, 2.3 µs
# a record against 0.7, and a flow of mutations makes one per delivery (about 5 % of the hub's
# CPU under `bench mutations`). Nothing holds a record to change it: the log takes its bytes as it
# is appended (adapters/sql/audit.py), and its dict field made it unhashable either way.
@dataclass
class AuditRecord:
    kind: str  # "exchange", "registry", "directory", "auth", "mutation", "declaration", "request"
    at_ms: int
    outcome: str  # "ok" or a refusal code
    request_id: str | None = None  # the hub's own, unique per request
    client_request_id: str | None = None  # the caller's X-Request-Id / X-Road-Id, as it sent it
    consumer: str | None = None
    application: str | None = None
    user_id: str | None = None
    service: str | None = None
    purpose: str | None = None
    authorization: str | None = None
    subject_hash: str | None = None
    providers: tuple[str, ...] = ()
    latency_us: int | None = None
    action: str | None = None
    target: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    # The operator or service account a registry or admin change was made by (domain/operators.py)
    actor: str | None = None

    def canonical(self, request_id: str | None = None) -> bytes:
        """The leaf bytes; with `request_id`, those of this record naming that request instead
        (`stamped_canonical` in services/request_scope.py, without building a copy: a
        `dataclasses.replace` cost three times the encoding, and most records are stamped)."""
        # An empty value is left out: None for any field, the empty tuple and dict of the two
        # fields that default to them (no other field holds a tuple or a dict). Tested field by
        # field rather than `v not in (None, (), {})` for each: the same bytes, a quarter faster.
        # orjson writes the providers' tuple as an array.
        body = {k: v for k, v in self.__dict__.items() if v is not None}
        if self.providers == ():
            del body["providers"]
        if self.detail == {}:
            del body["detail"]
        body["v"] = 1
        if request_id is not None:
            body["request_id"] = request_id
        return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)

    @classmethod
    def from_canonical(cls, data: bytes) -> AuditRecord:
        body = orjson.loads(data)
        body.pop("v", None)
        if "providers" in body:
            body["providers"] = tuple(body["providers"])
        return cls(**body)


def untrusted_text(value: object, limit: int = 100) -> str:
    """What a caller claimed, made fit for an audit record: at most `limit` characters of a safe
    ASCII set (others become '?'; a lone surrogate would not even encode), and a value that is
    not a string named by its type."""
    if not isinstance(value, str):
        return f"<{type(value).__name__}>"
    text = _UNSAFE.sub("?", value[:limit])
    return text + "..." if len(value) > limit else text
