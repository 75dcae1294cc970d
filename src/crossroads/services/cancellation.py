"""A loop that runs until it is cancelled must also end when the cancellation was lost.

`cancel()` reaches a task through what it awaits; when that completes at the same moment (a
message arriving as the fetch waiting for it is cancelled: Python 3.11's `wait_for` then returns
the message), the task gets the result, not CancelledError, and only its `cancelling()` count
remembers. A loop that went on would never end, and whoever waits for it after cancelling it
waits for ever: the push dispatcher, waiting so for a worker, stopped feeding the stream and
handing subscriptions over, in four of some forty `bench mutations --backend nats` runs
(docs/benchmarks.md). Each turn of such a loop calls `honour_lost_cancellation()` first.
"""

from __future__ import annotations

import asyncio


def honour_lost_cancellation() -> None:
    """Raise CancelledError when the current task was cancelled and is still running."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
