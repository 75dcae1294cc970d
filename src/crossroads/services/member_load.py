"""How many exchanges each member institution has in flight in this hub process, bounded.

A member is known only by its access token, so a proxy in front of the hub, which limits by
client address, cannot keep one member from taking the hub's capacity from the others: a member
with a valid token could hold hundreds of exchanges open at once (each forwarded to a provider,
signed and audited). `MemberLoad` admits at most `limit` exchanges of one institution at a time
in the process; one more is refused `member_busy` at once, before its body, the registry, the
directory, a provider or the audit log is touched, so that a refusal costs almost nothing and a
flood from one member leaves every other member's exchanges as they were.

The count lives in the process (the hub runs several workers: each bounds its own share); it is
released however the exchange ends: an answer, a refusal, a provider's timeout, the client gone
(the request's task cancelled).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ..domain.errors import Refusal

log = logging.getLogger("crossroads.exchange")
# A member refused many times a second is logged once a minute, not once a refusal: the metric
# (`crossroads_member_busy_total`) counts every one.
WARN_EVERY_SECONDS = 60.0


class MemberLoad:
    def __init__(self, limit: int, monotonic: Callable[[], float] = time.monotonic) -> None:
        """`limit`: the exchanges one institution may have in flight in this process (>= 1);
        `monotonic`: the clock the warnings are spaced by."""
        if limit < 1:
            raise ValueError("a member's concurrency limit is at least 1")
        self.limit = limit
        self._monotonic = monotonic
        self._in_flight: dict[str, int] = {}
        self._warned: dict[str, float] = {}

    def in_flight(self, institution: str) -> int:
        """The institution's exchanges admitted and not yet ended in this process."""
        return self._in_flight.get(institution, 0)

    @contextmanager
    def admitted(self, institution: str | None) -> Iterator[None]:
        """Hold one of `institution`'s places for the block, released when it ends, however it
        ends; `member_busy` (raised here, before the block runs) when all are taken. A caller of
        no institution (the operator, whom the exchange refuses anyway) is not counted."""
        if institution is None:
            yield
            return
        count = self._in_flight.get(institution, 0)
        if count >= self.limit:
            self._warn(institution)
            raise Refusal(
                "member_busy",
                f"institution {institution} has {self.limit} requests in flight in this hub "
                f"process already, as many as one member may (CROSSROADS_MEMBER_CONCURRENCY): "
                "send this one when one of them has been answered.",
            )
        self._in_flight[institution] = count + 1
        try:
            yield
        finally:
            # No await between the check and here, nor in this block: the event loop runs one
            # request at a time between awaits, so the count needs no lock.
            left = self._in_flight[institution] - 1
            if left:
                self._in_flight[institution] = left
            else:
                del self._in_flight[institution]  # the dict holds only members in flight

    def _warn(self, institution: str) -> None:
        now = self._monotonic()
        last = self._warned.get(institution)
        if last is not None and now - last < WARN_EVERY_SECONDS:
            return
        # Forget members not refused for a minute: the dict stays as small as the members that
        # are refused now, whatever institutions came before.
        self._warned = {i: t for i, t in self._warned.items() if now - t < WARN_EVERY_SECONDS}
        self._warned[institution] = now
        log.warning(
            "institution %s reached its limit of %d requests in flight in this process "
            "(CROSSROADS_MEMBER_CONCURRENCY): refusing its further exchanges member_busy; "
            "logged at most once a minute, every refusal counted in crossroads_member_busy_total",
            institution,
            self.limit,
        )
