"""Reference directory use cases: integrate, end, remove, bulk import, and queries."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from ..domain.audit import AuditRecord
from ..domain.directory import Integration
from ..domain.errors import Refusal
from ..domain.identifiers import IdentifierScheme
from ..domain.periods import Period, union_covers
from ..domain.subjects import SubjectHasher
from .clock import Clock
from .directory_lines import ChangeParser, ParsedBlock, Raw, read_import, split_import
from .ports import AuditLog, DirectoryRepository, IntegrationChange, RegistryRepository

_YIELD_EVERY = 512  # lines parsed between two chances for an in-flight write to progress
IMPORT_CHUNK = 5000
_BLOCKS_AHEAD = 3  # blocks given to parsing processes before the first is applied: keeps two busy


@dataclass
class ImportReport:
    lines: int = 0
    applied: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self, max_errors: int = 1000) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "applied": self.applied,
            "rejected": len(self.errors),
            "errors": self.errors[:max_errors],
        }


class DirectoryService:
    def __init__(
        self,
        directory: DirectoryRepository,
        registry: RegistryRepository,
        audit: AuditLog,
        clock: Clock,
        scheme: IdentifierScheme,
        hasher: SubjectHasher,
        provisional_days: int,
    ) -> None:
        """`provisional_days`: how long a provisional integration runs, from the day it is made,
        unless a definitive one confirms it."""
        self._provisional = timedelta(days=provisional_days)
        self._directory = directory
        self._registry = registry
        self._audit = audit
        self._clock = clock
        self._scheme = scheme
        self._hasher = hasher

    async def parser(
        self, institution: str | None, with_institutions: bool = False
    ) -> ChangeParser:
        """A parser of lines for `institution` (None: the operator, who names one per line).

        `with_institutions` makes the parser itself refuse lines naming an unregistered
        institution (a bulk load, where the registry is read once rather than per line).
        """
        capacities = await self._capacity_codes()
        known = (
            [i.enterprise_number for i in await self._registry.list_institutions()]
            if with_institutions
            else None
        )
        rights: dict[str, set[str]] = {}
        for right in await self._registry.list_integration_rights(institution):
            rights.setdefault(right.institution, set()).add(right.capacity)
        return ChangeParser(
            self._scheme,
            self._hasher,
            institution,
            capacities,
            rights,
            self._clock.today() + self._provisional,
            known,
            self._clock.today() - self._provisional,
        )

    async def change(
        self, raw: dict[str, Any], institution: str | None, actor: str
    ) -> IntegrationChange:
        """Apply one change (integrate, end or remove), audit it under the subject's hash,
        return it.

        A refused change is audited too (outcome: its code), under the institution the caller
        acts for: a member probing the directory leaves a trace.
        """
        try:
            item = (await self.parser(institution)).parse(raw)
            await self._check_institution(item.institution)
            if await self._directory.apply([item]):
                raise _nothing_held(item)
        except Refusal as refusal:
            await self._audit.append(
                AuditRecord(
                    kind="directory",
                    actor=actor,
                    at_ms=self._clock.now_ms(),
                    outcome=refusal.code,
                    action="directory.change",
                    consumer=institution,
                    detail={
                        "actor": actor,
                        "reason": refusal.message[:200],
                        "field": refusal.field,
                    },
                )
            )
            refusal.mark_audited()
            raise  # the refusal itself, its cause and traceback kept
        await self._audit.append(
            AuditRecord(
                kind="directory",
                actor=actor,
                at_ms=self._clock.now_ms(),
                outcome="ok",
                action=f"directory.{item.op}",
                consumer=item.institution,
                subject_hash=item.subject_key.hex(),
                target=item.capacity,
                detail={
                    "actor": actor,
                    "phase": item.phase.value,
                    "start": _day(item.period.start if item.period else None),
                    "end": _day(item.end or (item.period.end if item.period else None)),
                },
            )
        )
        return item

    async def import_lines(
        self,
        lines: Iterable[Raw],
        institution: str | None,
        actor: str,
        progress: Callable[[int], None] | None = None,
        chunk_size: int = IMPORT_CHUNK,
    ) -> ImportReport:
        """Apply a bulk file line by line. A bad line is reported and skipped; it never stops
        the rest.

        Lines are applied in chunks of `chunk_size` lines, each in one transaction and audited
        by one record holding the chunk's change count and a SHA-256 of its changes, so the log
        proves what was applied without one record per line (a 5-million-line file would
        otherwise dominate the log). Larger chunks load faster (each commit rewrites the B-tree
        pages it touched) but hold the store's write lock longer: the API keeps the default; an
        offline load may raise it.
        """
        parser = await self.parser(institution, with_institutions=True)
        return await self._apply_blocks(_parse_here(parser, lines, chunk_size), actor, progress)

    async def import_file(
        self,
        data: bytes,
        fmt: str,
        institution: str | None,
        actor: str,
        progress: Callable[[int], None] | None = None,
        chunk_size: int = IMPORT_CHUNK,
        parsers: Executor | None = None,
    ) -> ImportReport:
        """`import_lines` over a CSV or JSON Lines file, its lines parsed by `parsers` when given.

        With a pool of processes, the blocks of the file are read and validated there while this
        process writes: a bulk load then uses two cores (docs/deployment.md, "Loading the
        directory"). Blocks are still applied one after the other, in file order, and the report
        is the same as `import_lines`'.
        """
        blocks = split_import(data, fmt, chunk_size) if parsers is not None else None
        parser = await self.parser(institution, with_institutions=True)
        if blocks is None or parsers is None:  # both or neither
            parsed = _parse_here(parser, read_import(data, fmt), chunk_size)
        else:
            parsed = _parse_in(parsers, parser, blocks, fmt)
        return await self._apply_blocks(parsed, actor, progress)

    async def _apply_blocks(
        self, blocks: AsyncIterator[ParsedBlock], actor: str, progress: Callable[[int], None] | None
    ) -> ImportReport:
        report = ImportReport()
        # One block is written while the next is parsed: on PostgreSQL the write is awaited I/O
        # (COPY) done by the server on the other core; with parsing processes, parsing is theirs.
        writing: asyncio.Future[None] | None = None
        try:
            async for block in blocks:
                first_line = report.lines
                report.errors += [
                    {"line": first_line + number, **refusal.to_dict()}
                    for number, refusal in block.errors
                ]
                report.lines += block.lines
                if writing is not None:
                    previous, writing = writing, None
                    await previous
                writing = asyncio.ensure_future(
                    self._flush(block, first_line, actor, report, progress)
                )
            if writing is not None:
                previous, writing = writing, None
                await previous
        finally:
            if (
                writing is not None
            ):  # the file failed part-way: the chunk in flight still lands whole
                await writing
        return report

    async def _flush(
        self,
        block: ParsedBlock,
        first_line: int,
        actor: str,
        report: ImportReport,
        progress: Callable[[int], None] | None,
    ) -> None:
        if block.changes:
            unheld = await self._directory.apply(block.changes)
            if unheld:
                block.refuse(unheld, [_nothing_held(block.changes[at]) for at in unheld])
                report.errors += [
                    {"line": first_line + number, **refusal.to_dict()}
                    for number, refusal in block.errors[-len(unheld) :]
                ]
                report.errors.sort(key=lambda error: error["line"])
            report.applied += len(block.changes)
        if block.changes or block.errors:
            await self._audit.append(
                AuditRecord(
                    kind="directory",
                    actor=actor,
                    at_ms=self._clock.now_ms(),
                    outcome="ok",
                    action="directory.import",
                    detail={
                        "actor": actor,
                        "changes": len(block.changes),
                        "refused": len(block.errors),
                        "sha256": block.sha256,
                    },
                )
            )
        if progress is not None:
            progress(block.lines)

    async def holders(
        self, subject: str, capacity: str | None = None, on: date | None = None
    ) -> list[Integration]:
        key = self._hasher.key(self._scheme.normalise_person(subject))
        found = await self._directory.holders(key, capacity)
        if on is not None:
            found = [i for i in found if i.period.overlaps(Period.day(on))]
        return found

    async def held_by(self, subject: str, institution: str) -> list[Integration]:
        """What `institution` holds of the person (its own entries only: its staff's search)."""
        key = self._hasher.key(self._scheme.normalise_person(subject))
        return await self._directory.held_by(key, institution)

    async def holds(
        self, subject: str, institution: str, capacities: list[str] | None, wanted: Period
    ) -> bool:
        """Does `institution` hold the person in one of `capacities` (any, when None) on every
        day of `wanted`?"""
        number = self._scheme.normalise_enterprise(institution, "institution")
        found = await self.holders(subject)
        periods = [
            i.period
            for i in found
            if i.institution == number and (capacities is None or i.capacity in capacities)
        ]
        return union_covers(periods, wanted)

    async def _check_institution(self, number: str) -> None:
        if await self._registry.get_institution(number) is None:
            raise Refusal("not_found", f"no institution {number} is registered.", "institution")

    async def _capacity_codes(self) -> set[str]:
        return {c.code for c in await self._registry.list_capacities()}


def _nothing_held(change: IntegrationChange) -> Refusal:
    """An end or removal of an entry the institution does not hold: refused, so that neither
    the caller nor the audit log (read by the person on their page) says it was done."""
    return Refusal(
        "not_found",
        f"institution {change.institution} holds no entry of this person in capacity"
        f" {change.capacity} to {change.op}.",
        "subject",
    )


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


async def _parse_here(
    parser: ChangeParser, raws: Iterable[Raw], size: int
) -> AsyncIterator[ParsedBlock]:
    """Blocks of `size` lines parsed in this process, yielding now and then to a write in flight."""
    block = ParsedBlock()
    for raw in raws:
        block.lines += 1
        try:
            if isinstance(raw, Refusal):
                raise raw
            block.add(block.lines, parser.parse(raw))
        except Refusal as refusal:
            block.errors.append((block.lines, refusal))
        if block.lines % _YIELD_EVERY == 0:
            await asyncio.sleep(0)
        if block.lines >= size:
            yield block.seal()
            block = ParsedBlock()
    if block.lines:
        yield block.seal()


async def _parse_in(
    pool: Executor, parser: ChangeParser, texts: Sequence[str], fmt: str
) -> AsyncIterator[ParsedBlock]:
    """Blocks parsed by a pool of processes, a few ahead of the one being applied, in order."""
    loop = asyncio.get_running_loop()
    waiting = iter(texts)
    pending: deque[asyncio.Future[ParsedBlock]] = deque()
    try:
        for text in waiting:
            pending.append(loop.run_in_executor(pool, parser.parse_text, text, fmt))
            if len(pending) > _BLOCKS_AHEAD:
                yield await pending.popleft()
        while pending:
            yield await pending.popleft()
    finally:
        for future in pending:
            future.cancel()
