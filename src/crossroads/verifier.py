"""Checking the hub's audit log from outside: Merkle proofs as RFC 9162 (Certificate
Transparency 2.0).

This module is self-contained on purpose: it imports nothing from Crossroads and only the standard
library (plus `cryptography`, inside the one function that checks a tree head's Ed25519
signature), so that an auditor, a witness or a citizen's tool can copy this one file and check
what the hub shows them without trusting (or installing) the hub's code.

The log is a Merkle tree over its entries, in the order the hub gave them (RFC 9162 §2.1.1):

- the hash of an entry (a leaf) is SHA-256(0x00 || entry);
- the hash of an inner node is SHA-256(0x01 || left || right);
- the tree of n > 1 entries splits at k, the largest power of two smaller than n.

An *inclusion proof* shows that an entry sits at an index of a tree with a given root; a
*consistency proof* shows that the tree of size m is a prefix of the tree of size n, i.e. that
the log only grew between two tree heads. The two verification algorithms are those of RFC 9162
§2.1.3.2 and §2.1.4.2, written out because no maintained Python library implements that RFC's
proofs for a log of our own (the CT client libraries are tied to their certificate formats).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Sequence

HASH_BYTES = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
SEGMENT_FORMAT = "crossroads-audit-segment/1"
MAX_COUNT = 2**63 - 1  # tree sizes and timestamps, as the hub's stores keep them (signed 64-bit)


class ProofError(ValueError):
    """A proof that does not prove what it claims; the message says what did not hold."""


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes:
    """The root that `path` leads to from the leaf hash `leaf` at `index` of a tree of `size`."""
    if not 0 <= index < size:
        raise ProofError(f"index {index} is outside a tree of {size} entries")
    _check_hashes([leaf, *path])
    fn, sn = index, size - 1
    result = leaf
    for sibling in path:
        if sn == 0:
            raise ProofError("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            result = node_hash(result, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the inclusion proof is shorter than the tree is deep")
    return result


def verify_inclusion(
    index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes
) -> None:
    """Raise ProofError unless the leaf hash `leaf` is at `index` of the tree of `size` with
    `root`."""
    if root_from_inclusion(index, size, leaf, path) != root:
        raise ProofError(
            f"the inclusion proof for index {index} does not lead to the tree head's root"
        )


def verify_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> None:
    """Raise ProofError unless the tree (size1, root1) is a prefix of the tree (size2, root2)."""
    if not 0 <= size1 <= size2:
        raise ProofError(f"a tree of {size1} entries cannot be a prefix of one of {size2}")
    _check_hashes([root1, root2, *proof])
    if size1 == size2:
        if proof:
            raise ProofError("trees of the same size need an empty consistency proof")
        if root1 != root2:
            raise ProofError("two tree heads of the same size have different roots")
        return
    if size1 == 0:
        if proof:
            raise ProofError("the empty tree needs an empty consistency proof")
        return  # the empty tree is a prefix of every tree
    if not proof:
        raise ProofError("the consistency proof is empty")
    path = list(proof)
    if size1 & (size1 - 1) == 0:  # size1 is a power of two: its root is the proof's implicit start
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the consistency proof is shorter than the tree is deep")
    if fr != root1:
        raise ProofError(f"the consistency proof does not lead to the root of the tree of {size1}")
    if sr != root2:
        raise ProofError(f"the consistency proof does not lead to the root of the tree of {size2}")


def tree_head_bytes(tree_size: int, root_hash: bytes, timestamp_ms: int) -> bytes:
    """What the hub signs for a tree head: sorted-key JSON, hash in base64, no spaces."""
    return json.dumps(
        {
            "root_hash": base64.b64encode(root_hash).decode(),
            "timestamp": timestamp_ms,
            "tree_size": tree_size,
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()


def verify_tree_head(head: dict, jwks: dict) -> tuple[int, bytes]:
    """Check a signed tree head as the hub serves it against the hub's JWKS; return (size, root).

    The signature is a JWS (RFC 7515, EdDSA over Ed25519) with a detached payload, the payload
    being tree_head_bytes(). Only this check needs a package beyond the standard library:
    `cryptography`, for Ed25519.
    """
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    # Types are checked, not coerced: a head comes from whoever submits it to a witness, and
    # int() would take 1.5, "13", and overflow on 1e999.
    if not isinstance(head, dict):
        raise ProofError("the tree head is not a JSON object")
    size, timestamp = head.get("tree_size"), head.get("timestamp")
    if not (_is_count(size) and _is_count(timestamp)):
        raise ProofError(f"tree_size and timestamp are integers from 0 to {MAX_COUNT}")
    if not (isinstance(head.get("root_hash"), str) and isinstance(head.get("signature"), str)):
        raise ProofError("root_hash and signature are strings")
    try:
        root = base64.b64decode(head["root_hash"], validate=True)
        protected, empty, signature = head["signature"].split(".")
        header = _loads(_b64url_decode(protected))
    except (ValueError, RecursionError) as exc:
        raise ProofError(f"the tree head is not in the expected form ({exc})") from None
    if empty or header.get("alg") != "EdDSA":
        raise ProofError("the tree head's signature is not a detached EdDSA JWS")
    keys = [
        k
        for k in jwks.get("keys", [])
        if k.get("kid") == header.get("kid") and k.get("crv") == "Ed25519"
    ]
    if not keys:
        raise ProofError(f"no Ed25519 key {header.get('kid')!r} in the hub's key set")
    signing_input = f"{protected}.{_b64url(tree_head_bytes(size, root, timestamp))}".encode()
    try:
        Ed25519PublicKey.from_public_bytes(_b64url_decode(keys[0]["x"])).verify(
            _b64url_decode(signature), signing_input
        )
    except (InvalidSignature, ValueError):
        raise ProofError(f"the signature of the tree head of size {size} does not verify") from None
    _check_hashes([root])
    return size, root


def verify_segment(lines: Iterable[bytes], jwks: dict) -> dict:
    """Check an archive segment of the log (`crossroads audit export`); return its header.

    A segment holds the entries with leaf indexes [start, end), one per line after a JSON header
    line: {"format", "start", "end", "start_head", "end_head", "start_frontier", "jwks"}. It
    proves itself: both tree heads must be signed by a key of `jwks` (pass the keys you trust,
    not the copy in the header), the start frontier (the roots of the perfect subtrees of the
    first `start` entries, largest first) must give the start head's root, and the entries
    appended to it must give the end head's root. Consecutive segments chain: each one's
    start_head is the previous one's end_head. Raises ProofError naming what did not hold.
    """
    stream = iter(lines)
    try:
        header = _loads(next(stream))
        start, end = int(header["start"]), int(header["end"])
        frontier = [base64.b64decode(h) for h in header["start_frontier"]]
    except (StopIteration, KeyError, ValueError, TypeError) as exc:
        raise ProofError(f"the segment has no valid header ({exc})") from None
    if header.get("format") != SEGMENT_FORMAT:
        raise ProofError(f"not a {SEGMENT_FORMAT} segment")
    _check_hashes(frontier)
    levels = [bit for bit in range(start.bit_length() - 1, -1, -1) if start >> bit & 1]
    if len(levels) != len(frontier):
        raise ProofError(
            f"a tree of {start} entries has {len(levels)} perfect subtrees, not {len(frontier)}"
        )
    parts = list(zip(levels, frontier, strict=True))
    if start:
        size, root = verify_tree_head(header["start_head"] or {}, jwks)
        if size != start or _fold_parts(parts) != root:
            raise ProofError(
                f"the start frontier does not give the root of the tree head of size {start}"
            )
    count = 0
    for line in stream:
        entry = line[:-1] if line.endswith(b"\n") else line
        current, level = leaf_hash(entry), 0
        while parts and parts[-1][0] == level:
            current, level = node_hash(parts.pop()[1], current), level + 1
        parts.append((level, current))
        count += 1
    if count != end - start:
        raise ProofError(f"the segment should hold {end - start} entries and holds {count}")
    size, root = verify_tree_head(header.get("end_head") or {}, jwks)
    if size != end or _fold_parts(parts) != root:
        raise ProofError(
            f"the entries do not give the root of the tree head of size {end}: the segment"
            " was changed"
        )
    return header


def _fold_parts(parts: list[tuple[int, bytes]]) -> bytes:
    if not parts:
        return EMPTY_ROOT
    result = parts[-1][1]
    for _, left in reversed(parts[:-1]):
        result = node_hash(left, result)
    return result


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _check_hashes(hashes: Sequence[bytes]) -> None:
    for value in hashes:
        if not isinstance(value, bytes) or len(value) != HASH_BYTES:
            raise ProofError("every hash in a proof is 32 bytes (SHA-256)")


def _loads(data: bytes | str) -> dict:
    """The JSON object in `data`, whose objects name each key once (RFC 7493 §2.3); ValueError
    otherwise. Python's `json` keeps the last of two equal keys, other parsers the first: what is
    verified is read one way only. (The hub reads with crossroads/domain/unique_keys.py; this
    file stays on its own, so it checks in the plain way: its JSON is a header line.)"""
    value = json.loads(data, object_pairs_hook=_named_once)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def _named_once(pairs: list[tuple[str, object]]) -> dict[str, object]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise ValueError("a JSON object names a key twice")
    return found
