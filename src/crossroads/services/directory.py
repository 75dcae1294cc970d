"""Reference directory use cases: integrate, end, remove, bulk import, and queries."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from datetime import date
from typing import Callable, Iterable, Iterator

from ..domain.audit import AuditRecord
from ..domain.directory import Integration, Phase
from ..domain.errors import Refusal
from ..domain.identifiers import IdentifierScheme
from ..domain.periods import Period, parse_date, union_covers
from ..domain.subjects import SubjectHasher
from .clock import Clock
from .ports import AuditLog, DirectoryRepository, IntegrationChange, RegistryRepository

IMPORT_FIELDS = ("op", "subject", "institution", "capacity", "phase", "start", "end")
_YIELD_EVERY = 512  # lines parsed between two chances for an in-flight write to progress
IMPORT_CHUNK = 5000
_KNOWN_FIELDS = frozenset(IMPORT_FIELDS)
_PHASES = {phase.value: phase for phase in Phase}


@dataclass
class ImportReport:
    lines: int = 0
    applied: int = 0
    errors: list[dict] = field(default_factory=list)

    def as_dict(self, max_errors: int = 1000) -> dict:
        return {"lines": self.lines, "applied": self.applied, "rejected": len(self.errors),
                "errors": self.errors[:max_errors]}


class DirectoryService:
    def __init__(
        self, directory: DirectoryRepository, registry: RegistryRepository, audit: AuditLog,
        clock: Clock, scheme: IdentifierScheme, hasher: SubjectHasher,
    ) -> None:
        self._directory = directory
        self._registry = registry
        self._audit = audit
        self._clock = clock
        self._scheme = scheme
        self._hasher = hasher

    def parse_change(self, raw: dict, institution: str | None, capacities: set[str]) -> IntegrationChange:
        """A change from its JSON form. `institution`, when given, is the only one allowed."""
        if not isinstance(raw, dict):
            raise Refusal("malformed_request", "each change is a JSON object.")
        if not _KNOWN_FIELDS.issuperset(raw):
            unknown = sorted(set(raw) - _KNOWN_FIELDS)[0]
            raise Refusal("malformed_request", f"unknown field {unknown}.", unknown)
        op = raw.get("op") or "integrate"
        if op not in ("integrate", "end", "remove"):
            raise Refusal("malformed_request", "op is one of integrate, end, remove.", "op")
        subject = self._scheme.normalise_person(raw.get("subject"), "subject")
        named = raw.get("institution")
        if named in (None, ""):
            if institution is None:
                raise Refusal("malformed_request", "institution is required.", "institution")
            named = institution
        named = self._scheme.normalise_enterprise(named, "institution")
        if institution is not None and named != institution:
            raise Refusal("forbidden", "an application integrates persons only for its own institution.", "institution")
        capacity = raw.get("capacity")
        if capacity not in capacities:
            raise Refusal("malformed_request", f"capacity {capacity!r} is not registered.", "capacity")
        phase = _PHASES.get(raw.get("phase") or "definitive")
        if phase is None:
            raise Refusal("malformed_request", "phase is provisional or definitive.", "phase")
        start = parse_date(raw["start"], "start") if raw.get("start") else None
        end = parse_date(raw["end"], "end") if raw.get("end") else None
        key = self._hasher.key(subject)
        if op == "integrate":
            if start is None:
                raise Refusal("malformed_request", "start is required to integrate.", "start")
            return IntegrationChange("integrate", key, named, capacity, phase, Period(start, end))
        if op == "end":
            if end is None:
                raise Refusal("malformed_request", "end is required to end an integration.", "end")
            return IntegrationChange("end", key, named, capacity, phase, end=end)
        period = Period(start or date.min, end) if (start or end) else None
        return IntegrationChange("remove", key, named, capacity, phase, period)

    async def change(self, raw: dict, institution: str | None, actor: str) -> None:
        """Apply one change (integrate, end or remove) and audit it under the subject's hash."""
        capacities = await self._capacity_codes()
        item = self.parse_change(raw, institution, capacities)
        await self._check_institution(item.institution)
        await self._directory.apply([item])
        await self._audit.append(AuditRecord(
            kind="directory", at_ms=self._clock.now_ms(), outcome="ok", action=f"directory.{item.op}",
            consumer=item.institution, subject_hash=item.subject_key.hex(), target=item.capacity,
            detail={"actor": actor, "phase": item.phase.value,
                    "start": raw.get("start"), "end": raw.get("end")},
        ))

    async def import_lines(
        self, lines: Iterable[dict | Refusal], institution: str | None, actor: str,
        progress: Callable[[int], None] | None = None, chunk_size: int = IMPORT_CHUNK,
    ) -> ImportReport:
        """Apply a bulk file line by line. A bad line is reported and skipped; it never stops the rest.

        Lines are applied in chunks, each in one transaction and audited by one record holding
        the chunk's line count and a SHA-256 of its lines, so the log proves what was applied
        without one record per line (a 5-million-line file would otherwise dominate the log).
        Larger chunks load faster (each commit rewrites the B-tree pages it touched) but hold the
        store's write lock longer: the API keeps the default; an offline load may raise it.
        """
        report = ImportReport()
        capacities = await self._capacity_codes()
        institutions: dict[str, bool] = {}
        chunk: list[IntegrationChange] = []
        digest = hashlib.sha256()
        # One chunk is written while the next is parsed: on PostgreSQL the write is awaited I/O
        # (COPY) done by the server on the other core. (SQLite writes inline: there the overlap is
        # nil, and costs nothing.) Chunks are still applied one after the other, in file order.
        writing: asyncio.Task | None = None
        try:
            for number, raw in enumerate(lines, start=1):
                report.lines += 1
                if writing is not None and number % _YIELD_EVERY == 0:
                    await asyncio.sleep(0)  # let the write in flight reach its next step
                try:
                    if isinstance(raw, Refusal):
                        raise raw
                    item = self.parse_change(raw, institution, capacities)
                    if item.institution not in institutions:
                        institutions[item.institution] = await self._registry.get_institution(item.institution) is not None
                    if not institutions[item.institution]:
                        raise Refusal("not_found", f"no institution {item.institution} is registered.", "institution")
                except Refusal as refusal:
                    report.errors.append({"line": number, **refusal.to_dict()})
                    continue
                chunk.append(item)
                digest.update(item.subject_key + item.institution.encode() + item.capacity.encode())
                if len(chunk) >= chunk_size:
                    if writing is not None:
                        previous, writing = writing, None
                        await previous
                    writing = asyncio.ensure_future(self._flush(chunk, digest, actor, report, progress))
                    chunk, digest = [], hashlib.sha256()
            if writing is not None:
                previous, writing = writing, None
                await previous
            await self._flush(chunk, digest, actor, report, progress)
        finally:
            if writing is not None:  # the file failed part-way: the chunk in flight still lands whole
                await writing
        return report

    async def _flush(self, chunk, digest, actor: str, report: ImportReport, progress) -> None:
        if not chunk:
            return
        await self._directory.apply(chunk)
        report.applied += len(chunk)
        await self._audit.append(AuditRecord(
            kind="directory", at_ms=self._clock.now_ms(), outcome="ok", action="directory.import",
            detail={"actor": actor, "changes": len(chunk), "sha256": digest.hexdigest()},
        ))
        if progress is not None:
            progress(len(chunk))

    async def holders(self, subject: str, capacity: str | None = None, on: date | None = None) -> list[Integration]:
        key = self._hasher.key(self._scheme.normalise_person(subject))
        found = await self._directory.holders(key, capacity)
        if on is not None:
            found = [i for i in found if i.period.overlaps(Period.day(on))]
        return found

    async def holds(self, subject: str, institution: str, capacities: list[str] | None, wanted: Period) -> bool:
        """Does `institution` hold the person in one of `capacities` (any, when None) on every day of `wanted`?"""
        number = self._scheme.normalise_enterprise(institution, "institution")
        found = await self.holders(subject)
        periods = [i.period for i in found if i.institution == number and (capacities is None or i.capacity in capacities)]
        return union_covers(periods, wanted)

    async def _check_institution(self, number: str) -> None:
        if await self._registry.get_institution(number) is None:
            raise Refusal("not_found", f"no institution {number} is registered.", "institution")

    async def _capacity_codes(self) -> set[str]:
        return {c.code for c in await self._registry.list_capacities()}


def read_import(data: bytes | str, fmt: str) -> Iterator[dict | Refusal]:
    """Lines of a CSV (with a header row of IMPORT_FIELDS) or JSON Lines file.

    A line that cannot be parsed is yielded as a Refusal, so the caller reports it by number.
    """
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    if fmt == "jsonl":
        for line in text.splitlines():
            if not line.strip():
                yield Refusal("malformed_request", "empty line.")
                continue
            try:
                yield json.loads(line)
            except ValueError:
                yield Refusal("malformed_request", "the line is not valid JSON.")
        return
    if fmt != "csv":
        raise Refusal("unsupported_media_type", "bulk files are text/csv or application/jsonl.")
    # newline="" lets the csv module see the line ends itself, as its documentation asks:
    # a bare carriage return then ends a row instead of breaking the parser.
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = reader.fieldnames or []
    except csv.Error as exc:
        raise Refusal("malformed_request", f"the CSV header cannot be read ({exc}).") from None
    unknown = [h for h in header if h not in IMPORT_FIELDS]
    if unknown or "subject" not in header:
        raise Refusal("malformed_request", f"the CSV header must name columns among {', '.join(IMPORT_FIELDS)} (unknown: {', '.join(unknown) or 'none'}; subject required).")
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # the reader has consumed the bad line; the next one is read afresh
            yield Refusal("malformed_request", f"the line is not valid CSV ({exc}).")
            continue
        if None in row:
            yield Refusal("malformed_request", "the line has more columns than the header.")
            continue
        yield {k: v for k, v in row.items() if v not in (None, "")}
