"""Starting the demo's processes on a machine: free ports, waiting until a server answers, and
a child process that stops with its parent.

Used by `crossroads demo`, the end-to-end tests and the benchmarks, which all start a hub and
its providers as separate processes.
"""

from __future__ import annotations

import collections
import ctypes
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx

from . import country

# The blocks this process handed out last. Free is not enough: a caller may ask for two blocks
# before it listens on the first (two hubs set up, then started), and got overlapping ones.
_HANDED_OUT: collections.deque[range] = collections.deque(maxlen=64)


def free_port_block(count: int) -> int:
    """A base port such that base .. base+count-1 are all free, below the ephemeral range (where
    outgoing connections take local ports and could collide with a server started a moment
    later), and apart from the last blocks this process was given."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 32000 - count)
        if any(base < taken.stop and taken.start < base + count for taken in _HANDED_OUT):
            continue
        sockets = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            _HANDED_OUT.append(range(base, base + count))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError("no free block of ports")


def busy_port(ports: list[int], host: str = "127.0.0.1") -> int | None:
    """The first of `ports` a server could not listen on now, or None when all are free."""
    for port in ports:
        with socket.socket() as s:
            # As uvicorn binds: a port whose last connections linger in TIME_WAIT is free to it.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, port))
            except OSError:
                return port
    return None


def stop_with_parent(parent: int) -> None:
    """Have this process receive SIGTERM when the process `parent` ends, however it ends (even
    killed outright, when it has no chance to stop its children itself)."""
    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    else:

        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(0.5)
            os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=watch, daemon=True).start()
    if os.getppid() != parent:  # it ended before the line above took effect
        os.kill(os.getpid(), signal.SIGTERM)


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


def wait_providers(
    port_base: int, process: subprocess.Popen | None = None, timeout: float = 60
) -> None:
    """Return once every demo source answers on its port (`port_base` + the member's offset).

    The sources run in one process but each on a server of its own, started one after another:
    the first answering says nothing of the others, and an exchange sent before its source
    listens fails with `provider_unavailable`. Generous by default: on a busy two-core machine the
    sources' process took more than 20 s to start."""
    deadline = time.monotonic() + timeout
    for offset in sorted({m.port_offset for m in country.MEMBERS if m.port_offset is not None}):
        left = max(0.5, deadline - time.monotonic())
        wait_ready(f"http://127.0.0.1:{port_base + offset}/", process, timeout=left)
