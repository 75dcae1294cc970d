"""The batch worker process: batch files of declarations are processed in a process of their own,
so that the hub process that serves requests (exchanges, tokens, the audit sequencer, pushes)
never spends its event loop on them.

Reading a 40 MB DIMONA file through the official schema held a hub's event loop for 115 s, and a
100,000-line DmfA takes about 7 s of parsing and validation before its checks and the storing of
200,000 rows (on SQLite, synchronous calls on the loop). Here the hub only awaits a future: the
worker process opens the store itself, reads the file from it, decides and stores every form, and
answers with nothing (done) or the traceback of what it raised. Nothing large crosses between the
processes.

The worker is one spawned process (not forked: the hub runs threads whose locks a fork would copy
in whatever state), started at the first batch and kept, since it loads the official schemas and
code lists once (about a second). On Linux it asks the kernel to kill it when the hub process
dies, so a hub killed midway never leaves a worker still deciding the forms that the next hub
will resume.
"""

from __future__ import annotations

import asyncio
import ctypes
import multiprocessing
import os
import signal
import traceback
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import util
from typing import Any

from ..services.ports import BatchFailed, BatchWorker, WorkerLost
from .tracing import failed, internal

_PR_SET_PDEATHSIG = 1
_state: dict[str, Any] = {}  # in the worker process: its event loop and its processor


def _die_with(parent: int) -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the worker ends when the hub shuts its pool down
        pass
    if os.getppid() != parent:  # the hub died before the request above was made
        os._exit(1)


def _start(parent: int, build: Callable[..., Awaitable[Any]], args: tuple) -> None:
    _die_with(parent)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    _state["loop"] = loop
    _state["processor"] = loop.run_until_complete(build(*args))
    util.Finalize(None, _stop, exitpriority=10)  # run as the worker process exits


def _stop() -> None:
    loop = _state["loop"]
    loop.run_until_complete(_state["processor"].close())
    loop.close()


def _ready() -> int:
    return os.getpid()


def _process(batch_id: int) -> str | None:
    """None when the batch was processed; else the traceback of what processing raised (a text,
    which always crosses back, where an exception may not unpickle)."""
    try:
        _state["loop"].run_until_complete(_state["processor"].process(batch_id))
    except Exception:
        return traceback.format_exc()
    return None


class ProcessBatchWorker(BatchWorker):
    def __init__(self, build: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """`build(*args)`, run in the worker process, returns the processor: an object with
        `async process(batch_id)` and `async close()`. Both must pickle (a module-level function,
        plain settings)."""
        self._build = build
        self._args = args
        self._pool: ProcessPoolExecutor | None = None
        self.pid: int | None = None  # the worker process, once started

    async def start(self) -> None:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start,
                initargs=(os.getpid(), self._build, self._args),
            )
        try:
            self.pid = await asyncio.wrap_future(self._pool.submit(_ready))
        except BrokenProcessPool as exc:
            self._discard()
            raise RuntimeError("the batch worker process could not be started") from exc

    async def process(self, batch_id: int) -> None:
        with internal("declaration batch", {"crossroads.batch_id": batch_id}) as span:
            if self._pool is None:
                await self.start()
            assert self._pool is not None
            try:
                failure = await asyncio.wrap_future(self._pool.submit(_process, batch_id))
            except BrokenProcessPool as exc:
                self._discard()
                failed(span, "the batch worker process ended")
                raise WorkerLost(str(exc) or "the batch worker process ended abruptly") from None
            if failure is not None:
                failed(span, "processing the batch raised")
                raise BatchFailed(failure)

    def _discard(self) -> None:
        pool, self._pool, self.pid = self._pool, None, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    async def close(self) -> None:
        pool, self._pool, self.pid = self._pool, None, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, True)
