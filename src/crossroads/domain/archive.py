"""Archive segments of the audit log: what `crossroads audit export` writes and `prune` relies on.

A segment is the run of entries with leaf indexes [start, end), ending at a signed tree head. Its
file proves itself (crossroads.verifier.verify_segment), so the live store can drop its entries
once the retention period has passed while every tree head stays verifiable: the heads and the
roots of the pruned tree's perfect subtrees stay in the store, the entries in the archive.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Segment:
    start: int
    end: int
    file_name: str
    sha256: str  # of the file as written, checked again before its entries are pruned
    exported_at_ms: int
    pruned_at_ms: int | None = None


def segment_file_name(start: int, end: int) -> str:
    return f"audit-{start:012d}-{end:012d}.jsonl.gz"
