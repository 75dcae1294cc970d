"""The supervisor of `crossroads serve --workers N`: uvicorn's, with numbered workers, a worker's
death logged as an error, and the metrics of dead workers let go.

uvicorn's own supervisor replaces a worker that dies, but says so at `info` with nothing but a
pid, and knows nothing of the metrics each worker keeps in the shared folder (entrypoints/api/
metrics.py). Here each worker is started with its number (in every line it logs, and kept by its
replacement), a death is logged at `error` with how the worker ended, and every worker that is
gone (died, stopped by SIGTTOU, replaced by SIGHUP) has its live gauges removed from the folder,
so that `/metrics` reports only processes that run.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
from collections.abc import Callable
from socket import socket
from typing import Any

from uvicorn.config import STARTUP_FAILURE, Config
from uvicorn.supervisors.multiprocess import Multiprocess, Process

from .greedy_accept import share_counts
from .logs import set_worker

log = logging.getLogger("crossroads.supervisor")


# Workers whose connections are counted in shared memory (entrypoints/greedy_accept.py): workers
# added by SIGTTIN beyond them accept without counting.
COUNTED_WORKERS = 64


class Worker(Process):
    """One worker process, which knows its number and the workers' shared connection counts
    (both pickled into the spawned process)."""

    def __init__(self, config: Config, sockets: list[socket], number: int, counts: Any) -> None:
        self.number = number
        self.counts = counts
        super().__init__(config, sockets)

    def target(self, sockets: list[socket] | None = None) -> None:  # pragma: no cover
        set_worker(self.number)  # in the worker process, before it configures its logs
        share_counts(self.counts, self.number)
        super().target(sockets)


class Supervisor(Multiprocess):
    """uvicorn's Multiprocess with numbered workers; `forget(pid)` is called once for each worker
    process that has ended."""

    def __init__(
        self, config: Config, sockets: list[socket], forget: Callable[[int], None]
    ) -> None:
        super().__init__(config, sockets)
        self._forget = forget
        self._running: set[int] = set()
        # uvicorn spawns its workers: the shared memory must come from the spawn context.
        # Slot 0: how many workers run; then one slot a worker (greedy_accept.ConnectionCounts).
        self._counts = multiprocessing.get_context("spawn").RawArray("i", 1 + COUNTED_WORKERS)

    def _start(self, number: int) -> Worker:
        worker = Worker(self.config, self.sockets, number, self._counts)
        worker.start()
        return worker

    def init_processes(self) -> None:
        self._counts[0] = self.processes_num
        self.processes = [self._start(n) for n in range(self.processes_num)]
        self._let_go()

    def keep_subprocess_alive(self) -> None:
        if self.should_exit.is_set():
            return  # the supervisor is stopping: its workers end on purpose
        for index, worker in enumerate(self.processes):
            if worker.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            hung = worker.process.is_alive()
            worker.kill()
            worker.join()
            if worker.exitcode == STARTUP_FAILURE:
                # It failed before serving: the app, TLS or socket is broken and would fail the
                # same way on every restart.
                log.error(
                    "worker %s (pid %s) failed to start; stopping",
                    index,
                    worker.pid,
                    extra={"worker": index, "worker_pid": worker.pid},
                )
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            log.error(
                "worker %s (pid %s) %s; starting a replacement",
                index,
                worker.pid,
                _how_it_ended(hung, worker.exitcode, self.config.timeout_worker_healthcheck),
                extra={"worker": index, "worker_pid": worker.pid, "exit_code": worker.exitcode},
            )
            self.processes[index] = self._start(getattr(worker, "number", index))
        self._let_go()

    def handle_ttin(self) -> None:
        log.info("SIGTTIN: one more worker")
        self.processes_num += 1
        self._counts[0] = self.processes_num
        self.processes.append(self._start(len(self.processes)))

    def handle_ttou(self) -> None:
        """SIGTTOU: one worker fewer (uvicorn's), and the others told how many share the socket
        (they would otherwise keep leaving connections to the one gone, each time for 50 ms)."""
        super().handle_ttou()
        self._counts[0] = self.processes_num

    def restart_all(self) -> None:
        """SIGHUP: each worker replaced by a new one with its number, once the new one serves."""
        for index, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new = self._start(getattr(old, "number", index))
            if not new.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit):
                new.kill()
                new.join()
                self._let_go()
                if not self.should_exit.is_set():
                    log.error(
                        "the replacement of worker %s (pid %s) was not ready in time; keeping it",
                        index,
                        old.pid,
                    )
                return
            old.terminate()
            old.join()
            self.processes[index] = new
        self._let_go()

    def join_all(self) -> None:
        super().join_all()
        self._let_go()

    def _let_go(self) -> None:
        """Forget every worker that was running and no longer is."""
        running = {w.pid for w in self.processes if w.pid is not None and w.exitcode is None}
        for pid in sorted(self._running - running):
            self._forget(pid)
        self._running = running


def _how_it_ended(hung: bool, exitcode: int | None, timeout: float) -> str:
    if hung:
        return f"did not answer the supervisor within {timeout:g} s and was killed"
    if exitcode is not None and exitcode < 0:
        try:
            return f"was killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"was killed by signal {-exitcode}"
    return f"exited with status {exitcode}"
