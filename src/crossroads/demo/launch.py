"""Starting the demo's processes on a machine: free ports, and waiting until a server answers.

Used by `crossroads demo`, the end-to-end tests and the benchmarks, which all start a hub and
its providers as separate processes.
"""

from __future__ import annotations

import random
import socket
import subprocess
import time

import httpx


def free_port_block(count: int) -> int:
    """A base port such that base .. base+count-1 are all free, below the ephemeral range (where
    outgoing connections take local ports and could collide with a server started a moment later)."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 32000 - count)
        sockets = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError("no free block of ports")


def wait_ready(url: str, process: subprocess.Popen | None = None, timeout: float = 30) -> None:
    """Return once `url` answers below 500; fail if `process` stops first or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the process stopped with exit code {process.returncode}")
        try:
            if httpx.get(url, timeout=0.5).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s")
