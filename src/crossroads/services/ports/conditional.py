"""A conditional write: the entry as the writer last read it, which the store checks in the
write's own transaction. Four eyes checks a proposal against the entry as the proposal found it,
then writes; without the store's check, a change committed between the two (an application
disabled, a key removed, in another hub process) would be undone by the approval's write."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T", covariant=True)  # an Expected[Institution] is an Expected[Entry]


@dataclass(frozen=True)
class Expected(Generic[T]):
    """Write only if the stored entry is `entry` now (None: only if there is none)."""

    entry: T | None


class ChangedMeanwhile(Exception):
    """A conditional write found the entry other than expected, and wrote nothing."""
