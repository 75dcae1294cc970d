"""How a serving process sets up Python's cyclic garbage collector (CPython 3.11's generational
collector, the one this project pins).

The collector is triggered by counts of container objects allocated net of those freed, not by
memory: by default it walks the youngest generation once that count passes 700. A hub worker
under load allocates in batches (a page of 1,000 outbox rows becomes 1,000 deliveries, audit
records, messages and their dicts), so nearly every young collection found a whole batch still
alive, walked it, and moved it into the older generations, whose collections walked it again.
Measured with `perf record` of both workers under `bench mutations --store postgres` at 6,700
publications a second: the collector's functions (`gc_collect_main`, `visit_decref`,
`visit_reachable`) were 9 % of the workers' CPU. With the young threshold at 100,000, a batch is
freed by reference counting before the collector runs, and they were under 0.5 %.

Cycles are still collected (exceptions with their tracebacks, tasks and futures that refer to
each other), after 100,000 net container allocations rather than 700; the older generations keep
their default proportions. The count says nothing of bytes: a cycle that holds large strings
holds them until its turn.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_GENERATION_THRESHOLD = 100_000


@contextmanager
def serving_collector() -> Iterator[None]:
    """While a process serves: what start-up built frozen, the young generation collected seldom.

    Everything built at start-up lives as long as the process: `gc.freeze()` moves it out of the
    collector's sight, so that full collections stay short. Enter once, after start-up, in the
    process that serves (each worker of `crossroads serve`); on leaving, the thresholds are put
    back and the frozen objects returned to the collector, so that a process that goes on (a
    test, an embedding program) finds the collector as it was.
    """
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, before[1], before[2])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
