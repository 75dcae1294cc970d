"""The folder where the workers of one `crossroads serve` keep their metrics, so that any of them
can answer `/metrics` for all (entrypoints/api/metrics.py says how metrics are declared for it).

The supervisor chooses it before its workers start, empties it of an earlier run's files, and
tells it which workers have ended; a worker only reads the variable.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prometheus_client.multiprocess import mark_process_dead

VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def shared_metrics(workers: int) -> Iterator[Path | None]:
    """While serving: the folder of the workers' metrics, in the environment the workers inherit.

    The operator's `PROMETHEUS_MULTIPROC_DIR` when set (emptied of `*.db` files first, as
    prometheus_client requires); else, with more than one worker, a new temporary folder,
    removed afterwards; else None: one process keeps its metrics in memory."""
    given = os.environ.get(VARIABLE)
    if given:
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink()
        yield folder
        return
    if workers <= 1:
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix="crossroads-metrics-"))
    os.environ[VARIABLE] = str(folder)
    try:
        yield folder
    finally:
        del os.environ[VARIABLE]
        shutil.rmtree(folder, ignore_errors=True)


def forget(folder: Path, pid: int) -> None:
    """A worker has ended: its live gauges leave `/metrics` (its counts stay in the sums)."""
    mark_process_dead(pid, str(folder))
