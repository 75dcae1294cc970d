"""The CPU a benchmarked hub spent: user + system seconds of a process and its children.

Read from /proc (Linux), so that the figure is the hub's own work whatever else shares the
machine's cores: what a change to the hub's code moves, where throughput drifts with the load.
"""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (the uvicorn workers), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid] + [
        int(c)
        for c in subprocess.run(
            ["pgrep", "-P", str(pid)], capture_output=True, text=True
        ).stdout.split()
    ]
    for each in pids:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


class ServerCpu:
    """The CPU spent meanwhile by the servers a hub talks to on this machine: the PostgreSQL
    backends of one database (their process title names it: `postgres: USER DB …`) and a NATS
    server (`nats-server`). Sampled every 0.1 s from a thread, since a backend's CPU is lost from
    /proc when its connection ends; a backend that starts meanwhile counts from zero."""

    def __init__(self, database: str | None, nats: bool) -> None:
        self._database = database
        self._nats = nats
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def start(self) -> ServerCpu:
        self._first = self._read()
        self._last = dict(self._first)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._last.update(self._read())

    def seconds(self) -> float:
        return sum(v - self._first.get(pid, 0.0) for pid, v in self._last.items())

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            self._last.update(self._read())

    def _read(self) -> dict[int, float]:
        ticks = os.sysconf("SC_CLK_TCK")
        found: dict[int, float] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                title = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                if not self._ours(title):
                    continue
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
            found[int(entry)] = (int(fields[11]) + int(fields[12])) / ticks
        return found

    def _ours(self, title: str) -> bool:
        if self._database and title.startswith("postgres: ") and f" {self._database} " in title:
            return True
        return self._nats and "nats-server" in title.split(" ", 1)[0]
