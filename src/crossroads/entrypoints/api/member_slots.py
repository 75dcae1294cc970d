"""A member's request over HTTP holds one of its places (services/member_load.py) from the moment
its token is verified until its route is done, and a refusal for want of one is counted in
/metrics by institution. Every route a member's application is served on takes a place through
the dependency `member_application` (security.py); the routes that verify their caller otherwise
(the exchange's fast path, X-Road's, a peer hub's for its member) wrap their work in
`member_slot`. The hub's own in-process look-ups (the citizen's own data, the rights engine)
never pass here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from starlette.requests import Request

from ...domain.errors import Refusal
from .dependencies import hub_of
from .metrics import MEMBER_BUSY, institution_label


@contextmanager
def member_slot(request: Request, institution: str | None) -> Iterator[None]:
    """Run the block in one of `institution`'s places; `member_busy`, counted, when all are
    taken. The place is given back however the block ends, its task cancelled included. A request
    holds one place however many blocks it runs (a route that takes one under a dependency that
    took one already)."""
    if getattr(request.state, "member_slot", False):
        yield
        return
    request.state.member_slot = True
    entered = False
    try:
        with hub_of(request).member_load.admitted(institution):
            entered = True
            yield
    except Refusal:
        if not entered:
            assert institution is not None  # a caller of no institution is never refused here
            MEMBER_BUSY.labels(institution_label(institution)).inc()
        raise
