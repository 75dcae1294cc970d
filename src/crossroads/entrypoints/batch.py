"""How a process that runs one bulk job (a directory load) sets itself up."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def bulk_job() -> Iterator[None]:
    """Pause the cyclic garbage collector for the duration of a bulk job.

    A load creates millions of short-lived, acyclic objects (parsed lines, changes, rows); the
    collector, triggered by allocation counts, kept walking them and took a fifth of a
    1,000,000-person load (measured with py-spy; `crossroads bench directory`: 200,000 persons in
    28 s with it, 22.6 s without). Reference counting still frees them as each chunk is written.
    What already exists is frozen first, so the one collection at the end does not walk it.
    For a job process only: a server keeps its collector running.
    """
    gc.freeze()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        gc.unfreeze()
