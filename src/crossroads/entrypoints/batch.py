"""How a process that runs one bulk job (a directory load) sets itself up."""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager


def default_parsers() -> int:
    """Parsing processes for a bulk load: every core but the one that writes."""
    return max((os.cpu_count() or 1) - 1, 1)


@contextmanager
def bulk_job(parsers: int = 0) -> Iterator[Executor | None]:
    """Set the process up for a bulk job; yield a pool of `parsers` parsing processes (None for 0).

    The cyclic garbage collector is paused for the duration: a load creates millions of
    short-lived, acyclic objects (parsed lines, changes, rows); the collector, triggered by
    allocation counts, kept walking them and took a fifth of a 1,000,000-person load (measured
    with py-spy; `crossroads bench directory`: 200,000 persons in 28 s with it, 22.6 s without).
    Reference counting still frees them as each chunk is written. What already exists is frozen
    first, so the one collection at the end does not walk it. For a job process only: a server
    keeps its collector running.

    The parsing processes are spawned, not forked: the job's process already runs threads (the
    store's checkpointer, the writers' turn) whose locks a fork would copy in whatever state.
    """
    gc.freeze()
    was_enabled = gc.isenabled()
    gc.disable()
    pool = None
    if parsers > 0:
        pool = ProcessPoolExecutor(
            parsers, mp_context=multiprocessing.get_context("spawn"), initializer=gc.disable
        )
    try:
        yield pool
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if was_enabled:
            gc.enable()
        gc.unfreeze()
