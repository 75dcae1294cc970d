"""Repeated warnings, collapsed: during an outage of PostgreSQL each hub process's pool warns of
every failed attempt to connect again (about one a second), and the listener of credential
changes of each of its own; an hour of outage wrote thousands of the same lines per worker, and
the operator's log showed nothing else. A warning is written the first time; the same warning
(the same logger and the same message, its arguments filled in) within `interval_seconds` after
that is counted instead, and the next one written after the interval says how many were not and
over how long. A warning that stops repeating leaves its last count unwritten: the next line of it,
if any, says it.
Warnings that differ in what they name (another provider, another pool) are each written.

Errors and worse are never held back: only warnings repeat this way by design (a retry loop's),
and an error is what an operator must see each time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

REPEAT_INTERVAL_SECONDS = 60.0
_MOST_KEPT = 1000  # distinct warnings remembered; past it the oldest is forgotten (written again)


class RepeatedWarnings(logging.Filter):
    def __init__(
        self,
        interval_seconds: float = REPEAT_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._interval = interval_seconds
        self._clock = clock
        # (logger, message) -> (when the last one was written, how many held back since)
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}
        self._lock = threading.Lock()  # a handler filters outside its own lock, in any thread

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.WARNING:
            return True
        try:
            key = (record.name, record.getMessage())
        except Exception:  # a message its arguments do not fit: the handler reports it as ever
            return True
        with self._lock:
            now = self._clock()
            # Popped and put back: the dict stays in the order of last use, the oldest first.
            last = self._seen.pop(key, None)  # (when last written, how many held back since)
            if last is not None and now - last[0] < self._interval:
                self._seen[key] = (last[0], last[1] + 1)
                return False
            self._seen[key] = (now, 0)
            if len(self._seen) > _MOST_KEPT:
                del self._seen[next(iter(self._seen))]
        if last is not None and last[1]:
            record.repeated = last[1]  # a field of its own in the JSON line
            record.msg = (
                f"{key[1]} ({last[1]} more like it in the {now - last[0]:.0f} s"
                " since it was last written)"
            )
            record.args = None
        return True
