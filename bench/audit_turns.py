"""The SQLite audit writers of two hub processes on one file: their CPU per record, in parts.

    python bench/audit_turns.py LABEL SECONDS    (PYTHONPATH=<tree>/src to measure another tree)

Two processes, each a uvloop event loop with 8 tasks that each burn 400 µs of CPU (as an
exchange's Python would) and then append one exchange record through the store's real `append`,
for SECONDS. Printed per record: the CPU of the processes, of their threads other than the event
loop (the audit writer and the WAL checkpointer), and, timed on the writer's own thread by
wrapping the writer's steps, its waits for SQLite's write lock
(`begin_immediate`) and for the writers' turn (`flock`, in a tree where they take turns), and the
reload of the Merkle tree's right edge. Since the commits are the event loop's (2ef9b16) there is
no writer thread: the transaction's work is timed on the loop, and the lock's wait is not.
docs/benchmarks.md, "The audit writers take turns by a lock", has the figures.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from typing import Any

import uvloop

TASKS = 8
BURN_US = 400


def burn(microseconds: int) -> None:
    end = time.thread_time() + microseconds / 1e6
    while time.thread_time() < end:
        pass


def timing(steps: dict[str, float]) -> None:
    """Wrap the writer's steps so that each adds its thread's CPU time to `steps`."""
    import crossroads.adapters.sql.audit as audit

    def timed(name: str, step: Any) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return step(*args, **kwargs)
            finally:
                steps[name] += time.thread_time() - started

        return run

    if hasattr(audit, "begin_immediate"):  # a tree whose writer is a thread (before 2ef9b16)
        audit.begin_immediate = timed("begin", audit.begin_immediate)
    writer = audit.SQLiteAuditLog
    writer._tree = timed("tree", writer._tree)  # type: ignore[method-assign]
    # The transaction's work: `_append_rows` since the commits are the event loop's.
    name = next(n for n in ("_transaction", "_commit", "_append_rows") if hasattr(writer, n))
    transaction = timed("transaction", getattr(writer, name))

    def counted(*args: Any) -> Any:
        steps["commits"] += 1
        return transaction(*args)

    setattr(writer, name, counted)
    if hasattr(audit, "fcntl"):

        class Turns:
            flock = staticmethod(timed("flock", audit.fcntl.flock))
            LOCK_EX = audit.fcntl.LOCK_EX
            LOCK_UN = audit.fcntl.LOCK_UN

        audit.fcntl = Turns  # type: ignore[assignment]


def other_threads_cpu() -> float:
    """CPU seconds of this process's threads but the main one."""
    ticks = 0
    for task in os.listdir("/proc/self/task"):
        if int(task) == os.getpid():
            continue
        with open(f"/proc/self/task/{task}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


async def appender(url: str, seconds: float, results: Any) -> None:
    from crossroads.adapters.sql.store import open_store
    from crossroads.domain.audit import AuditRecord

    steps = {"begin": 0.0, "tree": 0.0, "flock": 0.0, "transaction": 0.0, "commits": 0}
    timing(steps)
    store = await open_store(url)
    await store.audit.append(AuditRecord(kind="exchange", at_ms=1, outcome="ok", request_id="w"))
    appended = 0
    stop = time.monotonic() + seconds

    async def exchanges(task: int) -> None:
        nonlocal appended
        i = 0
        while time.monotonic() < stop:
            burn(BURN_US)
            await asyncio.sleep(0)
            await store.audit.append(
                AuditRecord(
                    kind="exchange",
                    at_ms=1_700_000_000_000 + i,
                    outcome="ok",
                    request_id=f"{os.getpid()}-{task}-{i}",
                    consumer="0123456789",
                    application="app",
                    service="person.identity/1",
                    purpose="SOCIAL_INTEGRATION",
                    authorization="AUTH-1",
                    subject_hash="ab" * 32,
                    providers=("0200000000",),
                    latency_us=1234,
                )
            )
            i += 1
            appended += 1

    steps.update({"begin": 0.0, "tree": 0.0, "flock": 0.0, "transaction": 0.0, "commits": 0})
    process, others = time.process_time(), other_threads_cpu()
    await asyncio.gather(*(exchanges(task) for task in range(TASKS)))
    results.put(
        (appended, time.process_time() - process, other_threads_cpu() - others, dict(steps))
    )
    await store.close()


def child(url: str, seconds: float, results: Any) -> None:
    uvloop.run(appender(url, seconds, results))


def main() -> None:
    label, seconds = sys.argv[1], float(sys.argv[2])
    folder = tempfile.mkdtemp(prefix="crossroads-bench-audit-turns-")
    url = f"sqlite:///{folder}/audit.sqlite3"

    async def migrate() -> None:
        from crossroads.adapters.sql.store import open_store

        await (await open_store(url)).close()

    asyncio.run(migrate())
    results: Any = multiprocessing.Queue()
    processes = [
        multiprocessing.Process(target=child, args=(url, seconds, results)) for _ in range(2)
    ]
    for process in processes:
        process.start()
    each = [results.get() for _ in processes]
    for process in processes:
        process.join()
    shutil.rmtree(folder, ignore_errors=True)
    n = sum(r[0] for r in each)
    steps = {key: sum(r[3][key] for r in each) for key in each[0][3]}
    per = {key: f"{value * 1e6 / n:.1f}" for key, value in steps.items() if key != "commits"}
    print(
        f"{label} load {os.getloadavg()[0]:.2f} records/s {n / seconds:.0f}"
        f" records/commit {n / steps['commits']:.2f}"
        f" process µs/record {sum(r[1] for r in each) * 1e6 / n:.1f}"
        f" other threads µs/record {sum(r[2] for r in each) * 1e6 / n:.1f}"
        f" (waits: begin {per['begin']}, flock {per['flock']}; tree {per['tree']})"
    )


if __name__ == "__main__":
    main()
