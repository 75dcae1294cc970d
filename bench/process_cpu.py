"""The CPU a benchmarked hub spent: user + system seconds of a process and its children.

Read from /proc (Linux), so that the figure is the hub's own work whatever else shares the
machine's cores: what a change to the hub's code moves, where throughput drifts with the load.
"""

from __future__ import annotations

import os
import subprocess
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
