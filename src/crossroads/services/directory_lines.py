"""What a line of a directory file means: reading CSV and JSON Lines, and turning one line into a
change.

A bulk load spends half its time here (python-stdnum's checks, the keyed hash), so this part can
run in worker processes: a `ChangeParser` pickles to a few bytes and rebuilds itself once per
process, and a parsed block pickles cheaply (identical institutions, capacities, phases and
periods are the same objects, which pickle writes once per block).
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from ..domain import unique_keys
from ..domain.directory import Phase
from ..domain.errors import Refusal
from ..domain.identifiers import IdentifierScheme, scheme_for
from ..domain.periods import Period, parse_date
from ..domain.subjects import SubjectHasher
from .ports import IntegrationChange

IMPORT_FIELDS = ("op", "subject", "institution", "capacity", "phase", "start", "end")
_KNOWN_FIELDS = frozenset(IMPORT_FIELDS)
_TEXT_FIELDS = ("op", "institution", "capacity", "phase")  # dates: parse_date refuses a non-string
_PHASES = {phase.value: phase for phase in Phase}
_OPS = {"integrate": "integrate", "end": "end", "remove": "remove"}

Raw = dict[str, Any] | Refusal


@dataclass
class ParsedBlock:
    """The changes of consecutive lines, and the lines refused (numbered within the block, from 1).

    `sha256` digests the changes (keyed hash, institution, capacity of each): the audit record
    of the block's transaction holds it, proving what was applied without a record per line.
    """

    lines: int = 0
    changes: list[IntegrationChange] = field(default_factory=list)
    change_lines: list[int] = field(default_factory=list)  # each change's line number
    errors: list[tuple[int, Refusal]] = field(default_factory=list)
    sha256: str = ""

    def add(self, number: int, change: IntegrationChange) -> None:
        self.changes.append(change)
        self.change_lines.append(number)

    def refuse(self, positions: list[int], refusals: list[Refusal]) -> None:
        """Turn the changes at `positions` into refused lines (found wanting when applied),
        appended to `errors` in that order, and seal again without them."""
        dropped = set(positions)
        lines = [self.change_lines[at] for at in positions]
        self.errors += list(zip(lines, refusals, strict=True))
        kept = [at for at in range(len(self.changes)) if at not in dropped]
        self.changes = [self.changes[at] for at in kept]
        self.change_lines = [self.change_lines[at] for at in kept]
        self.seal()

    def seal(self) -> ParsedBlock:
        self.sha256 = hashlib.sha256(
            b"".join(
                c.subject_key + c.institution.encode() + c.capacity.encode() for c in self.changes
            )
        ).hexdigest()
        return self


class ChangeParser:
    """Turns a line's JSON form into an IntegrationChange, or refuses it with the field at fault.

    `institution`, when given, is the only institution the lines may name (an application
    integrates persons only for its own institution); `capacities` are the registered codes;
    `rights` the capacities each institution may integrate in (the registry's integration
    rights: an integration outside them is refused; ending or removing one's own entries is
    not); `provisional_until` the last day a provisional integration made now may run to
    (it expires then unless confirmed by a definitive one); `institutions`, when given, the
    registered institutions (otherwise the caller checks).
    """

    def __init__(
        self,
        scheme: IdentifierScheme,
        hasher: SubjectHasher,
        institution: str | None,
        capacities: Iterable[str],
        rights: Mapping[str, Collection[str]],
        provisional_until: date,
        institutions: Iterable[str] | None = None,
        provisional_from: date | None = None,
    ) -> None:
        self.scheme = scheme
        self.hasher = hasher
        self.institution = institution
        # One object per code, so that a parsed block's capacities pickle once.
        self.capacities = {code: code for code in capacities}
        self.rights = {number: frozenset(codes) for number, codes in rights.items()}
        self.provisional_until = provisional_until
        self.provisional_from = provisional_from or date.min
        self.institutions = None if institutions is None else frozenset(institutions)

    def __reduce__(self) -> tuple[Callable[..., ChangeParser], tuple[object, ...]]:
        rights = tuple(
            sorted((number, tuple(sorted(codes))) for number, codes in self.rights.items())
        )
        return _parser_for, (
            self.scheme.country,
            self.hasher.secret,
            self.institution,
            tuple(sorted(self.capacities)),
            rights,
            self.provisional_until,
            None if self.institutions is None else tuple(sorted(self.institutions)),
            self.provisional_from,
        )

    def parse(self, raw: object) -> IntegrationChange:
        if not isinstance(raw, dict):
            raise Refusal("malformed_request", "each change is a JSON object.")
        if not _KNOWN_FIELDS.issuperset(raw):
            unknown = sorted(map(str, set(raw) - _KNOWN_FIELDS))[0]
            raise Refusal("malformed_request", f"unknown field {unknown[:64]}.", unknown[:64])
        for name in _TEXT_FIELDS:  # codes are text: a list or object is refused, never looked up
            if not isinstance(raw.get(name, ""), (str, type(None))):
                raise Refusal("malformed_request", f"{name} must be a string.", name)
        op = _OPS.get(raw.get("op") or "integrate")
        if op is None:
            raise Refusal("malformed_request", "op is one of integrate, end, remove.", "op")
        subject = self.scheme.normalise_person(raw.get("subject"), "subject")
        named = raw.get("institution")
        if named in (None, ""):
            if self.institution is None:
                raise Refusal("malformed_request", "institution is required.", "institution")
            named = self.institution
        named = self.scheme.normalise_member(named, "institution")
        if self.institution is not None and named != self.institution:
            raise Refusal(
                "forbidden",
                "an application integrates persons only for its own institution.",
                "institution",
            )
        if self.institutions is not None and named not in self.institutions:
            raise Refusal("not_found", f"no institution {named} is registered.", "institution")
        if raw.get("capacity") in (None, ""):
            raise Refusal("malformed_request", "capacity is required.", "capacity")
        capacity = self.capacities.get(raw.get("capacity"))  # type: ignore[arg-type]
        if capacity is None:
            raise Refusal(
                "malformed_request",
                f"capacity {str(raw.get('capacity'))[:64]!r} is not registered.",
                "capacity",
            )
        phase = _PHASES.get(raw.get("phase") or "definitive")
        if phase is None:
            raise Refusal("malformed_request", "phase is provisional or definitive.", "phase")
        start, end = raw.get("start") or None, raw.get("end") or None
        key = self.hasher.key(subject)
        if op == "integrate":
            if start is None:
                raise Refusal("malformed_request", "start is required to integrate.", "start")
            if capacity not in self.rights.get(named, ()):
                raise Refusal(
                    "no_integration_right",
                    f"institution {named} may not integrate persons as {capacity}: the "
                    "registry grants it no such right.",
                    "capacity",
                )
            period = _period(start, end)
            _plausible(period, self.provisional_until)
            if phase is Phase.PROVISIONAL:
                period = _provisional(period, self.provisional_from, self.provisional_until)
            return IntegrationChange("integrate", key, named, capacity, phase, period)
        if op == "end":
            if end is None:
                raise Refusal("malformed_request", "end is required to end an integration.", "end")
            return IntegrationChange("end", key, named, capacity, phase, end=_date(end, "end"))
        span = (
            _period(start, end) if start else (Period(date.min, _date(end, "end")) if end else None)
        )
        return IntegrationChange("remove", key, named, capacity, phase, span)

    def parse_block(self, raws: Iterable[Raw]) -> ParsedBlock:
        """Parse consecutive lines; a refused line is recorded with its number and skipped."""
        block = ParsedBlock()
        for number, raw in enumerate(raws, start=1):
            try:
                if isinstance(raw, Refusal):
                    raise raw
                block.add(number, self.parse(raw))
            except Refusal as refusal:
                block.errors.append((number, refusal))
            block.lines = number
        return block.seal()

    def parse_text(self, text: str, fmt: str) -> ParsedBlock:
        """Parse a block of a file (a CSV block starts with the header row); for worker
        processes."""
        return self.parse_block(read_import(text, fmt))


# An integration's start, whatever its phase: a file is opened on a person within a life, and
# not years ahead (an outside review integrated from 0001-01-01 and from 9999-12-31).
EARLIEST_START = date(1900, 1, 1)
LATEST_START_AHEAD = timedelta(days=366)


def _plausible(period: Period, provisional_until: date) -> None:
    if period.start < EARLIEST_START:
        raise Refusal("invalid_period", f"start is {EARLIEST_START.isoformat()} or later.", "start")
    # provisional_until is today plus the provisional period: the bound moves with today.
    latest = provisional_until + LATEST_START_AHEAD
    if period.start > latest:
        raise Refusal(
            "invalid_period",
            f"start is at most a year ahead ({latest.isoformat()} at the latest).",
            "start",
        )


def _provisional(period: Period, since: date, until: date) -> Period:
    """A provisional integration runs at most to `until`, and starts at most as long before
    today as it may run after it: phase 1 is short-lived (CBSS), so it opens no years of a
    person's history to an institution that has not confirmed it holds the file."""
    if period.start > until:
        raise Refusal(
            "invalid_period",
            f"a provisional integration starts by {until.isoformat()} at the latest.",
            "start",
        )
    if period.start < since:
        raise Refusal(
            "invalid_period",
            f"a provisional integration starts on {since.isoformat()} or later; a longer "
            "history is opened by a definitive one.",
            "start",
        )
    return period if period.end is not None and period.end <= until else Period(period.start, until)


@lru_cache(maxsize=8)
def _parser_for(
    country: str,
    secret: bytes,
    institution: str | None,
    capacities: tuple[str, ...],
    rights: tuple[tuple[str, tuple[str, ...]], ...],
    provisional_until: date,
    institutions: tuple[str, ...] | None,
    provisional_from: date,
) -> ChangeParser:
    # In a worker process, the first block rebuilds the parser and the next ones reuse it (and
    # its caches of validated numbers and keyed hashes).
    return ChangeParser(
        scheme_for(country),
        SubjectHasher(secret),
        institution,
        capacities,
        dict(rights),
        provisional_until,
        institutions,
        provisional_from,
    )


# Dates and periods repeat across millions of lines; being immutable values, they are shared.
def _date(value: object, name: str) -> date:
    return _cached_date(value, name) if isinstance(value, str) else parse_date(value, name)


def _period(start: object, end: object) -> Period:
    if isinstance(start, str) and (end is None or isinstance(end, str)):
        return _cached_period(start, end)
    return Period(parse_date(start, "start"), None if end is None else parse_date(end, "end"))


@lru_cache(maxsize=65536)
def _cached_date(value: str, name: str) -> date:
    return parse_date(value, name)


@lru_cache(maxsize=65536)
def _cached_period(start: str, end: str | None) -> Period:
    return Period(_cached_date(start, "start"), None if end is None else _cached_date(end, "end"))


def read_import(data: bytes | str, fmt: str) -> Iterator[Raw]:
    """Lines of a CSV (with a header row of IMPORT_FIELDS) or JSON Lines file.

    A line that cannot be parsed is yielded as a Refusal, so the caller reports it by number.
    """
    # A byte order mark opens the files spreadsheets save as "CSV UTF-8": it is not a column.
    text = data.decode("utf-8-sig", errors="replace") if isinstance(data, bytes) else data
    text = text.removeprefix("\ufeff")
    if fmt == "jsonl":
        for line in text.splitlines():
            if not line.strip():
                yield Refusal("malformed_request", "empty line.")
                continue
            try:
                yield unique_keys.loads(line)
            except unique_keys.DuplicateKey as exc:
                yield Refusal("malformed_request", f"{exc}.", exc.path)
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
        raise Refusal(
            "malformed_request",
            f"the CSV header must name columns among {', '.join(IMPORT_FIELDS)} (unknown: "
            f"{', '.join(unknown) or 'none'}; subject required).",
        )
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except (
            csv.Error
        ) as exc:  # the reader has consumed the bad line; the next one is read afresh
            yield Refusal("malformed_request", f"the line is not valid CSV ({exc}).")
            continue
        if None in row:
            yield Refusal("malformed_request", "the line has more columns than the header.")
            continue
        yield {k: v for k, v in row.items() if v not in (None, "")}


def split_import(data: bytes, fmt: str, lines_per_block: int) -> list[str] | None:
    """Cut a file into blocks of whole lines that parse independently, or None when it cannot be.

    Reading the blocks one after the other with `read_import` yields the same items, in the same
    order, as reading the whole file. Each CSV block starts with the file's header row. A CSV
    file is not cut (None: the caller reads it as one stream) where a row may not be one line: a
    quote character (a field may hold a line break), a bare carriage return (it ends a row), or
    an empty line (the csv module skips it).
    """
    text = data.decode("utf-8-sig", errors="replace")  # as read_import reads it
    if fmt == "jsonl":
        rows = text.splitlines(keepends=True)  # as read_import splits them
        return [
            "".join(rows[at : at + lines_per_block]) for at in range(0, len(rows), lines_per_block)
        ]
    if fmt != "csv":
        raise Refusal("unsupported_media_type", "bulk files are text/csv or application/jsonl.")
    header, _, body = text.partition("\n")
    unsplittable = (
        '"' in text or "\r" in body.replace("\r\n", "\n") or body.startswith(("\n", "\r\n"))
    )
    if unsplittable or "\n\n" in body or "\n\r\n" in body:
        return None
    rows = body.split("\n")
    if rows[-1] == "":
        rows.pop()  # after the file's last newline
    return [
        header + "\n" + "\n".join(rows[at : at + lines_per_block]) + "\n"
        for at in range(0, len(rows), lines_per_block)
    ]
