"""`crossroads audit export` and `crossroads audit prune`: archive segments and retention.

Export writes the entries since the last segment, up to the latest signed tree head, as one
self-verifying segment file (crossroads.verifier.verify_segment): gzip'd JSON lines, a header
with both tree heads and the roots the segment's tree starts from, then one entry per line. The
file is written under a temporary name, synced, read back and verified before it is renamed into
place and recorded in the store; an export that fails leaves no segment behind.

Prune removes from the live store the entries of exported segments whose last entry is older than
the retention period, after checking the segment files again. It always ends at a segment's end,
where a signed tree head exists, so `audit verify` can tie what remains to that head; and it
keeps the live log's last entry, whose leaf index gives the tree's size.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from ..domain.archive import Segment, segment_file_name
from ..domain.audit import AuditRecord
from ..domain.errors import Refusal
from ..domain.merkle import perfect_parts
from ..verifier import SEGMENT_FORMAT, ProofError, verify_segment
from .clock import Clock
from .ports import TransparencyLog

PAGE = 10_000


@dataclass
class PruneReport:
    up_to: int  # the live log now begins at this leaf index
    removed: int  # entries removed by this run
    segments: list[Segment]


class AuditArchive:
    def __init__(
        self, log_store: TransparencyLog, jwks: Callable[[], dict[str, Any]], clock: Clock
    ) -> None:
        self._log = log_store
        self._jwks = jwks
        self._clock = clock

    async def export(self, directory: Path) -> Segment | None:
        """Write the next segment into `directory`; None when no head was signed since the last."""
        segments = await self._log.segments()
        start = segments[-1].end if segments else 0
        end_head = await self._log.latest_head()
        if end_head is None or end_head.tree_size <= start:
            return None
        start_head = await self._log.head(start) if start else None
        if start and start_head is None:
            raise RuntimeError(
                f"no signed tree head of size {start}, where the last segment ended; run "
                "crossroads audit verify"
            )
        parts = perfect_parts(0, start)
        stored = await self._log.nodes(parts)
        header = {
            "format": SEGMENT_FORMAT,
            "start": start,
            "end": end_head.tree_size,
            "start_head": start_head.as_dict() if start_head else None,
            "end_head": end_head.as_dict(),
            "start_frontier": [_b64(stored[part]) for part in parts],
            "jwks": self._jwks(),
        }
        # Blocking file calls on purpose: export runs from the CLI (`crossroads audit export`),
        # alone on its event loop, so there is no request to hold up.
        directory.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240
        name = segment_file_name(start, end_head.tree_size)
        final, partial = directory / name, directory / f".{name}.partial"
        digest = hashlib.sha256()
        try:
            with open(partial, "wb") as raw:  # noqa: ASYNC230
                with gzip.GzipFile(fileobj=_Hashing(raw, digest), mode="wb", mtime=0) as out:
                    out.write(orjson.dumps(header) + b"\n")
                    await self._write_entries(out, start, end_head.tree_size)
                raw.flush()
                os.fsync(raw.fileno())
            self.check_file(partial)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        os.replace(partial, final)
        _fsync_directory(directory)
        segment = Segment(start, end_head.tree_size, name, digest.hexdigest(), self._clock.now_ms())
        await self._log.add_segment(segment)
        return segment

    async def _write_entries(self, out: gzip.GzipFile, start: int, end: int) -> None:
        at = start
        while at < end:
            page = await self._log.entries(at, min(PAGE, end - at))
            if not page:
                raise RuntimeError(f"the live log has no entry {at}; run crossroads audit verify")
            for leaf_index, entry in page:
                if leaf_index != at:
                    raise RuntimeError(
                        f"the live log has no entry {at}; run crossroads audit verify"
                    )
                if b"\n" in entry:
                    raise RuntimeError(
                        f"entry {at} is not a canonical record (it holds a line break); run "
                        "crossroads audit verify"
                    )
                out.write(entry + b"\n")
                at += 1

    def check_file(self, path: Path) -> dict[str, Any]:
        """verify_segment against the hub's current keys; returns the header."""
        with gzip.open(path, "rb") as lines:
            return verify_segment(lines, self._jwks())

    async def prune(self, directory: Path, retention_days: int) -> PruneReport:
        """Remove the entries of exported segments older than `retention_days` from the live
        store, once their files in `directory` are found intact."""
        if retention_days < 1:
            raise Refusal(
                "malformed_request", "the retention period is at least one day.", "retention_days"
            )
        cutoff = self._clock.now_ms() - retention_days * 86_400_000
        size = await self._log.size()
        retained = await self._log.retained_from()
        chosen: list[Segment] = []
        for segment in await self._log.segments():
            if segment.end <= retained:
                continue
            if segment.end >= size or await self._last_at_ms(segment) >= cutoff:
                break
            chosen.append(segment)
        if not chosen:
            return PruneReport(retained, 0, [])
        for segment in chosen:
            self._check_archived(directory, segment)
        up_to = chosen[-1].end
        removed = await self._log.prune(up_to, perfect_parts(0, up_to), self._clock.now_ms())
        return PruneReport(up_to, removed, chosen)

    async def _last_at_ms(self, segment: Segment) -> int:
        entry = await self._log.entry(segment.end - 1)
        if entry is None:
            raise RuntimeError(
                f"the live log has no entry {segment.end - 1}; run crossroads audit verify"
            )
        return AuditRecord.from_canonical(entry).at_ms

    def _check_archived(self, directory: Path, segment: Segment) -> None:
        path = directory / segment.file_name
        if not path.exists():
            raise RuntimeError(f"the archive segment {path} is missing: nothing was pruned")
        digest = hashlib.sha256()
        with open(path, "rb") as raw:
            for block in iter(lambda: raw.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != segment.sha256:
            raise RuntimeError(
                f"the archive segment {path} is not the file exported: nothing was pruned"
            )
        try:
            self.check_file(path)
        except ProofError as exc:
            raise RuntimeError(
                f"the archive segment {path} does not verify ({exc}): nothing was pruned"
            ) from None


class _Hashing:
    """A file object that hashes what is written through it (the sha256 recorded for a segment)."""

    def __init__(self, raw: IO[bytes], digest: hashlib._Hash) -> None:
        self._raw = raw
        self._digest = digest

    def write(self, data: bytes) -> int:
        self._digest.update(data)
        return self._raw.write(data)

    def flush(self) -> None:
        self._raw.flush()


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
