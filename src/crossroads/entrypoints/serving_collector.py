"""How a serving process sets up Python's cyclic garbage collector.

The collector is triggered by allocation counts, not by memory: by default it walks the youngest
generation after every 700 net allocations of container objects. A hub worker under load
allocates in batches (a page of 1,000 outbox rows becomes 1,000 deliveries, audit records,
messages and their dicts), so nearly every young collection found a whole batch still alive,
walked it, and moved it into the older generations, whose collections walked it again. Measured
with `perf record` of both workers under `bench mutations --store postgres` at 6,700
publications a second: the collector's functions (`gc_collect_main`, `visit_decref`,
`visit_reachable`) were 9 % of the workers' CPU. With the young threshold at 100,000, a batch
is freed by reference counting before the collector runs, and they were under 0.5 %.

Cycles are still collected (exceptions with their tracebacks, tasks and futures that refer to
each other): a young collection now runs after 100,000 net allocations, a few megabytes of
garbage at most, and the older generations keep their default proportions.
"""

from __future__ import annotations

import gc

YOUNG_GENERATION_THRESHOLD = 100_000


def settle_for_serving() -> None:
    """Freeze what start-up built and collect the young generation less often.

    Everything built at start-up lives as long as the process: `gc.freeze()` moves it out of the
    collector's sight, so that full collections stay short. Call once, after start-up, in the
    process that serves (each worker of `crossroads serve`).
    """
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, old)
