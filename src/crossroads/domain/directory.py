"""The reference directory: which institution holds a file on which person, in which capacity, when.

Persons are stored under a keyed hash of their identifier (see `subjects.SubjectHasher`); the
directory never needs the clear number, since every question about a person arrives with it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import Enum

from .errors import Refusal
from .periods import Period, union_covers


class Phase(str, Enum):
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


def check_access(
    held: list[Integration], consumer: str, required: tuple[str, ...], wanted: Period,
    granted: Collection[str], accepts_provisional: bool = False,
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
                f"institution {consumer} holds this person only provisionally (phase 1); the authorization"
                " requires a definitive integration.",
                "subject",
            )
        matching = definitive
    if not union_covers((i.period for i in matching), wanted):
        raise Refusal(
            "period_outside_integration",
            f"institution {consumer} does not hold this person in a required capacity for every day "
            f"from {wanted.start.isoformat()} to {wanted.end.isoformat() if wanted.end else 'today'}.",
            "period",
        )
