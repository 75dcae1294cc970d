"""A batch the webhook accepted while it is being settled: audited, then marked delivered.

The push dispatcher (push.py) reads and POSTs a subscription's next batch meanwhile, when its
queue `pipelines`; these are the few things it keeps about the batch in flight.
"""

from __future__ import annotations

import asyncio
import logging
from typing import NamedTuple

log = logging.getLogger("crossroads.mutations")


class Settling(NamedTuple):
    """The task writing a pushed batch's audit records and delivered marks; the batch's last seq,
    behind which the next batch is read."""

    task: asyncio.Task[None]
    last_seq: int


async def finished(settling: Settling | None) -> None:
    """Waits for a batch being settled, whatever its outcome, so that the next read starts
    behind nothing in flight. A failure is logged: its messages stay queued, to be sent again."""
    if settling is not None:
        try:
            # Shielded: a worker cancelled while it waits does not cancel the batch's settling.
            await asyncio.shield(settling.task)
        except Exception:
            log.exception("a pushed batch could not be settled; it will be sent again")
