"""The wake across processes, for bench/rights.py `--bells N`: how long a bell rung in this
process takes to reach a listener in another (adapters/sql/arrival_bells.py), on SQLite (a
datagram) and, given a DSN, PostgreSQL (a NOTIFY, sent as its own committed statement, as a
publication's commit sends it). Both processes read the same monotonic clock."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from crossroads.adapters.sql.arrival_bells import CHANNEL, SocketBells

LISTENER = """
import asyncio, sys, time
from crossroads.adapters.sql.arrival_bells import NotifyBells, SocketBells

async def main(kind, where):
    bells = SocketBells(where) if kind == "sqlite" else NotifyBells(where)
    await bells.listen(lambda boxes: print(time.monotonic(), flush=True))
    await asyncio.sleep(1.0)  # listening (PostgreSQL: connected) before the first bell
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await bells.close()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""
MAILBOX = ("0200001430", "engine-app")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def bell_latencies(kind: str, samples: int, dsn: str | None = None) -> list[float]:
    """`samples` bells 20 ms apart; each one's delay in ms from its ring to its hearing."""
    folder = tempfile.mkdtemp(prefix="crossroads-bench-bells-")
    where = dsn if kind == "postgres" else str(Path(folder) / "hub.sqlite3.arrivals")
    listener = subprocess.Popen(
        [sys.executable, "-c", LISTENER, kind, where],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert listener.stdout is not None and listener.stdin is not None
    assert listener.stdout.readline().strip() == "ready"
    ringer = SocketBells(where) if kind == "sqlite" else None
    connection = psycopg.connect(dsn, autocommit=True) if kind == "postgres" else None
    delays = []
    try:
        for _ in range(samples):
            rung = time.monotonic()
            if ringer is not None:
                ringer.ring([MAILBOX])
            else:
                assert connection is not None
                connection.execute(
                    f"SELECT pg_notify('{CHANNEL}', %s)", (f"bench {MAILBOX[0]}:{MAILBOX[1]}",)
                )
            heard = float(listener.stdout.readline())
            delays.append((heard - rung) * 1000)
            time.sleep(0.02)
    finally:
        listener.stdin.close()
        listener.wait(10)
        if connection is not None:
            connection.close()
        shutil.rmtree(folder, ignore_errors=True)
    return delays


def bell_figures(samples: int, dsn: str | None) -> dict:
    figures = {}
    for kind in ("sqlite", "postgres") if dsn else ("sqlite",):
        delays = bell_latencies(kind, samples, dsn)
        figures[f"bell_{kind}_p50_ms"] = round(percentile(delays, 0.5), 3)
        figures[f"bell_{kind}_p99_ms"] = round(percentile(delays, 0.99), 3)
    return figures
