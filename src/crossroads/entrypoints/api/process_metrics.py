"""A worker's own state in the metrics every worker answers for: whether it leads the sequencer,
and the failures its running parts counted.

Under `serve --workers N` the worker that answers a scrape is seldom the one that leads, so each
worker copies its state into the shared metrics every SAMPLE_SECONDS (and at each scrape it
answers, so that one process alone is always exact). To count a new kind of failure: a field of
`RunningState` (services/hub_status.py), its name in `metrics.COUNTED_FAILURES`, its line here.
"""

from __future__ import annotations

import asyncio

from ...services.clock import sleep_unless
from ...services.hub_status import HubStatus, RunningState
from .metrics import MULTIPROCESS, SAMPLE_SECONDS, record


def failures(running: RunningState) -> dict[str, int]:
    """The counts of `running`, by the name of their counter (metrics.COUNTED_FAILURES)."""
    return {
        "crossroads_tree_head_publish_failures": running.publish_failures,
        "crossroads_push_round_failures": running.push_failures,
        "crossroads_declaration_publish_failures": running.declaration_publish_failures,
        "crossroads_push_stream_losses": running.push_stream_losses,
        "crossroads_push_reconciled": running.push_reconciled,
    }


def sample(status: HubStatus) -> None:
    running = status.running()
    record(running.leading, failures(running))


async def keep_sampling(status: HubStatus, stop: asyncio.Event) -> None:
    """Copy this worker's state into the shared metrics until `stop` (nothing to do when the
    process keeps its metrics to itself: its scrapes read its state)."""
    if not MULTIPROCESS:
        return
    while not stop.is_set():
        sample(status)
        await sleep_unless(stop, SAMPLE_SECONDS)
