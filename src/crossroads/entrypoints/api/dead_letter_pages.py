"""A page of dead letters, for the portal's two lists of them: the operator's (every member's) and
an institution's (its own subscriptions'). Oldest first, a page at a time, with the count of all
and where the next page starts: `after`, the last seq of the page before, as the admin API pages
them (`GET /admin/dead-letters?after=`). A list that stopped at its oldest thousand hid the rest
from the people who must replay or drop them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import Request

from ...domain.errors import Refusal
from ...services.mutations import MutationService
from ...services.ports.mutations import Delivery
from .schemas import MAX_INTEGER

_SEQ = re.compile(r"[0-9]{1,19}")  # ASCII digits only: str.isdigit() also takes "²"


@dataclass(frozen=True)
class DeadLetterPage:
    letters: list[Delivery]
    total: int  # every dead letter of the list, not only this page's
    after: int  # where this page starts: 0 for the first
    next_after: int | None  # where the next page starts; None on the last

    @property
    def partial(self) -> bool:
        """Whether the page lists fewer than all: it then says how many of how many."""
        return self.after > 0 or self.next_after is not None


def after_of(request: Request) -> int:
    """The page's `after` from its address: 0 when absent; a refusal when it is not a seq."""
    text = request.query_params.get("after", "")
    if not text:
        return 0
    if not _SEQ.fullmatch(text) or int(text) > MAX_INTEGER:
        raise Refusal(
            "malformed_request",
            "after is a dead letter's sequence number: the last one of the page before.",
            "after",
        )
    return int(text)


async def dead_letter_page(
    mutations: MutationService, after: int, shown: int, institution: str | None = None
) -> DeadLetterPage:
    """Up to `shown` dead letters after seq `after`: all members', or `institution`'s."""
    # One more than shown tells whether a next page holds any: a full page is often the last.
    letters = await mutations.dead_letters(shown + 1, institution, after)
    page, beyond = letters[:shown], letters[shown:]
    # Two reads: a letter that died between them must not make the count fall below the page.
    total = max(await mutations.count_dead_letters(institution), len(page))
    return DeadLetterPage(page, total, after, page[-1].seq if beyond else None)
