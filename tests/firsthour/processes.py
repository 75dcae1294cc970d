"""Watching the processes a test started: their descendants (read from /proc), whether they have
ended, and a process's output read line by line with a deadline."""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path
from typing import IO


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent id) of a process, or None when there is no such process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()  # the command name, in parentheses, may hold spaces
    return fields[0], int(fields[1])


def descendants(pid: int) -> set[int]:
    """Every process below `pid`, now."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            children.setdefault(stat[1], []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def running(pids: set[int]) -> set[int]:
    """Those of `pids` still running (a zombie, waiting to be reaped, has ended)."""
    return {pid for pid in pids if (stat := _stat(pid)) is not None and stat[0] != "Z"}


def wait_until_ended(pids: set[int], timeout: float) -> set[int]:
    """Poll until none of `pids` runs or `timeout` passes; return those still running."""
    deadline = time.monotonic() + timeout
    while (left := running(pids)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


class Lines:
    """A stream's lines, read by a thread, so that a test can wait for one with a deadline."""

    def __init__(self, stream: IO[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line)
        self._queue.put(None)

    def until(self, predicate, timeout: float) -> list[str]:
        """The lines read until one satisfies `predicate` (included); fails at the deadline or
        at the end of the stream."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                raise AssertionError(
                    f"no such line within {timeout} s; read: {''.join(self.seen)[-3000:]}"
                )
            if line is None:
                raise AssertionError(f"the stream ended first; read: {''.join(self.seen)[-3000:]}")
            self.seen.append(line)
            if predicate(line):
                return self.seen
