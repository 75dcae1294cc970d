"""The reference directory: which institution holds a file on which person, in which capacity, when,
how a change (integrate, end, remove) changes those periods, and who may ask about the person.

Persons are stored under a keyed hash of their identifier (see `subjects.SubjectHasher`); the
directory never needs the clear number, since every question about a person arrives with it.
Every store applies changes with `periods_after`, so that SQLite, PostgreSQL and the tests'
in-memory directory agree on the periods a person is held for.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import NamedTuple

from .errors import Refusal
from .periods import ONE_DAY, Period, merge_into, subtract, union_covers


class Phase(StrEnum):
    """Phase 1: a file is being examined (provisional). Phase 2: the file is opened (definitive)."""

    PROVISIONAL = "provisional"
    DEFINITIVE = "definitive"


@dataclass(frozen=True)
class Integration:
    subject_key: bytes
    institution: str
    capacity: str
    phase: Phase
    period: Period


# The last day of "until further notice", as an ordinal (a `Holding`'s open end).
OPEN_END = date.max.toordinal()


class Holding(NamedTuple):
    """One period in which an institution holds a person in a capacity, as deciding who receives
    a mutation reads it (`domain.mutations.entitled`): plain values, days as ordinals
    (`date.toordinal`, an open end `OPEN_END`), `definitive` false for a provisional period.

    A named tuple the store fills from its row rather than an `Integration` with its `Period`: a
    batch of 1,000 mutations reads thousands, and building those (4 µs each, the `Period`'s check
    included) was half of the directory's share of a publishing hub in py-spy.
    """

    institution: str
    capacity: str
    definitive: bool
    first_day: int
    last_day: int

    @classmethod
    def of(cls, integration: Integration) -> Holding:
        period = integration.period
        return cls(
            integration.institution,
            integration.capacity,
            integration.phase is Phase.DEFINITIVE,
            period.start.toordinal(),
            OPEN_END if period.end is None else period.end.toordinal(),
        )


class IntegrationChange(NamedTuple):
    """One line of a directory update: integrate (merge), end, or remove a period.

    A named tuple rather than a dataclass: a bulk load makes millions, and passes them between
    processes (see `directory_lines`), where a tuple is several times cheaper to build and pickle.
    """

    op: str  # "integrate" | "end" | "remove"
    subject_key: bytes
    institution: str
    capacity: str
    phase: Phase = Phase.DEFINITIVE
    period: Period | None = None  # integrate/remove: the period; None removes all
    end: date | None = None  # end: the last day


Held = set[tuple[Phase, Period]]  # the periods of one (person, institution, capacity), by phase


def periods_after(current: Held, change: IntegrationChange) -> Held:
    """The periods of one (person, institution, capacity) after one change.

    Integrating merges the period with those of the same phase it overlaps or touches (a
    provisional and a definitive period are kept apart: each counts differently in
    `check_access`). Ending takes out every day after the last one, and removing takes out the
    period's days (every day when no period is named), in both phases.
    """
    if change.op == "integrate":
        if change.period is None:
            raise ValueError("an integration needs a period")
        same_phase = [period for phase, period in current if phase == change.phase]
        absorbed, merged = merge_into(same_phase, change.period)
        kept = {(ph, pe) for ph, pe in current if not (ph == change.phase and pe in absorbed)}
        return kept | {(change.phase, merged)}
    if change.op == "end":
        if change.end is None:
            raise ValueError("ending an integration needs its last day")
        if change.end == date.max:  # ends after the calendar's last day: nothing to take out
            return set(current)
        removed = Period(change.end + ONE_DAY)
    elif change.op == "remove":
        removed = change.period or Period(date.min)
    else:
        raise ValueError(f"unknown directory change {change.op!r}")
    return {(phase, left) for phase, period in current for left in subtract(period, removed)}


def check_access(
    held: list[Integration],
    consumer: str,
    required: tuple[str, ...],
    wanted: Period,
    granted: Collection[str],
    accepts_provisional: bool = False,
) -> None:
    """Refuse unless `consumer` holds the subject in a required capacity over all of `wanted`.

    `held` is every integration of the subject by `consumer`; `granted` the capacities the
    registry lets `consumer` integrate in (an entry outside them counts for nothing, whoever
    wrote it and whenever). A provisional integration counts only when the authorization
    `accepts_provisional`. The union of the integrations in any of the required capacities must
    cover the period asked about (an institution that handled a person as a job seeker and then
    as an insured person, with both capacities allowed, may ask about the whole span).
    """
    held = [i for i in held if i.capacity in granted]
    if not held:
        raise Refusal(
            "subject_not_in_directory",
            f"institution {consumer} has not integrated this person in the reference directory.",
            "subject",
        )
    matching = [i for i in held if i.capacity in required]
    if not matching:
        capacities = ", ".join(sorted({i.capacity for i in held}))
        raise Refusal(
            "capacity_mismatch",
            f"institution {consumer} holds this person as {capacities}; the authorization requires "
            f"{' or '.join(required)}.",
            "subject",
        )
    if not accepts_provisional:
        definitive = [i for i in matching if i.phase is Phase.DEFINITIVE]
        if not definitive:
            raise Refusal(
                "provisional_not_accepted",
                f"institution {consumer} holds this person only provisionally (phase 1); the "
                "authorization"
                " requires a definitive integration.",
                "subject",
            )
        matching = definitive
    if not union_covers((i.period for i in matching), wanted):
        raise Refusal(
            "period_outside_integration",
            f"institution {consumer} does not hold this person in a required capacity for "
            "every day "
            f"from {wanted.start.isoformat()} to "
            f"{wanted.end.isoformat() if wanted.end else 'today'}.",
            "period",
        )
