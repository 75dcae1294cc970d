"""A citizen's report that a piece of data about them is wrong, addressed to the authentic source
that holds it (the one an exchange of that service would ask about the person), which answers
it. The hub carries the report; correcting the data is the source's."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import Refusal

MAX_MESSAGE = 2000
# Open reports one person may have about one service's data with one source: enough to add what
# was forgotten, not a way to fill the source's queue (which it reads oldest first) and the audit
# log with one person's reports. Answered ones do not count.
MAX_OPEN_REPORTS = 5


@dataclass(frozen=True)
class DataReport:
    id: int | None  # None until stored
    source: str  # enterprise number of the authentic source
    service: str  # the service code whose data is said to be wrong
    subject: str  # the person's identifier: the source needs it to find its record
    subject_hash: str  # the keyed hash (hex), by which the person's own reports are listed
    message: str
    received_at_ms: int
    closed_at_ms: int | None = None
    answer: str | None = None

    @property
    def open(self) -> bool:
        return self.closed_at_ms is None


def checked_text(value: object, field: str, required: bool = True) -> str:
    """Free text from a person: trimmed, at most MAX_MESSAGE characters."""
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        raise Refusal("malformed_request", f"{field} is required: say what is wrong.", field)
    if len(text) > MAX_MESSAGE:
        raise Refusal("malformed_request", f"{field} is at most {MAX_MESSAGE} characters.", field)
    return text
