"""Sizing figures for docs/operations.md: storage per exchange, connections and memory per worker.

    crossroads bench sizing [--store sqlite|postgres] [--exchanges N] [--workers W] [--json]

A hub started as in production (`crossroads serve --workers W`, seeded by `crossroads demo
--seed-only`) answers N exchanges (person.identity, each a durable audit record in the Merkle log)
from 16 concurrent clients, behind bench/static_provider.py. Measured:

- `bytes_per_exchange`: growth of the store over N (SQLite: pages in use, read through the WAL,
  so the WAL file's own size does not count; PostgreSQL: pg_database_size), and
  `audit_bytes_per_exchange`, the audit log's own tables (records with their indexes, Merkle
  nodes, heads; PostgreSQL only, per table in `bytes_per_exchange_by_table`);
- `pg_connections_idle` / `pg_connections_peak`: backends on the hub's database once ready and at
  most while answering (PostgreSQL only), for W workers;
- `worker_rss_mib_idle` / `worker_rss_mib_loaded`: resident memory of each worker process once
  ready and after the load (the largest worker), and `supervisor_rss_mib` for the parent.

PostgreSQL: CROSSROADS_BENCH_POSTGRES_DSN names a server where a database may be created
(default postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import uuid
from pathlib import Path

import httpx
import psycopg
from report import print_figures  # bench/report.py, beside this script

from crossroads.adapters.keys import token_request
from crossroads.demo import country
from crossroads.demo.launch import free_port_block, wait_ready
from crossroads.demo.seed import client_key_path

CLI = [sys.executable, "-m", "crossroads.entrypoints.cli"]
CONCURRENCY = 16
AUDIT_TABLES = ("audit_log", "merkle_nodes", "tree_heads", "tree_head_cosignatures")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        path = task / "children"
        if path.exists():
            found += [int(c) for c in path.read_text().split()]
    return found


def workers(pid: int) -> list[int]:
    """uvicorn's worker processes (the children that run the app, not multiprocessing helpers);
    with `--workers 1` uvicorn runs the app in `pid` itself, which is then the one worker."""
    found = [
        c
        for c in children(pid)
        if b"multiprocessing.resource_tracker" not in Path(f"/proc/{c}/cmdline").read_bytes()
    ]
    return found or [pid]


class Connections:
    """Samples the number of backends on one database while the load runs."""

    def __init__(self, admin_dsn: str, database: str) -> None:
        self._dsn, self._database = admin_dsn, database
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def count(self) -> int:
        with psycopg.connect(self._dsn, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (self._database,)
            ).fetchone()
        return int(row[0]) if row else 0

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, self.count())

    def __enter__(self) -> Connections:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def store_bytes(store: str, store_url: str, tmp: Path) -> dict[str, int]:
    if store == "sqlite":
        total = 0
        # The store's file and the audit log's beside it (adapters/sql/audit_file.py).
        for name in ("crossroads.sqlite3", "crossroads.audit.sqlite3"):
            conn = sqlite3.connect(f"file:{tmp / name}?mode=ro", uri=True)
            try:
                pages, free, size = (
                    conn.execute(f"PRAGMA {p}").fetchone()[0]
                    for p in ("page_count", "freelist_count", "page_size")
                )
            finally:
                conn.close()
            total += (pages - free) * size
        return {"total": total}
    with psycopg.connect(store_url, autocommit=True) as conn:
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        total = size[0] if size else 0
        rows = conn.execute(
            "SELECT relname, pg_total_relation_size(c.oid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')"
        ).fetchall()
    return {"total": int(total), **{name: int(size) for name, size in rows}}


async def exchanges(base: str, token: str, bodies: list[str], count: int) -> int:
    failures = 0
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(
        base_url=base, timeout=30, limits=httpx.Limits(max_connections=CONCURRENCY)
    ) as http:

        async def one(i: int) -> None:
            nonlocal failures
            answer = await http.post(
                "/v1/exchange/person.identity", content=bodies[i % len(bodies)], headers=headers
            )
            failures += answer.status_code != 200

        for start in range(0, count, CONCURRENCY * 8):
            await asyncio.gather(
                *(one(i) for i in range(start, min(count, start + CONCURRENCY * 8)))
            )
    return failures


def run(store: str, count: int, worker_count: int, persons: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="crossroads-sizing-"))
    port = free_port_block(8)
    admin = os.environ.get(
        "CROSSROADS_BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    database = f"crossroads_sizing_{uuid.uuid4().hex[:8]}"
    if store == "postgres":
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        store_url = admin.rsplit("/", 1)[0] + f"/{database}"
    else:
        store_url = f"sqlite:///{tmp / 'crossroads.sqlite3'}"
    env = {
        **os.environ,
        "CROSSROADS_DATA_DIR": str(tmp),
        "CROSSROADS_STORE_URL": store_url,
        "CROSSROADS_ISSUER": f"http://127.0.0.1:{port}",
        "CROSSROADS_WORKERS": str(worker_count),
        "CROSSROADS_LOG_LEVEL": "warning",
        "CROSSROADS_TOKEN_TTL_SECONDS": "3600",
    }
    subprocess.run(
        [
            *CLI,
            "demo",
            "--persons",
            str(persons),
            "--seed-only",
            "--data-dir",
            str(tmp),
            "--port",
            str(port),
            "--provider-port-base",
            str(port),
            "--store-url",
            store_url,
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    nr_port = port + country.BY_KEY["nr"].port_offset
    source = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("static_provider.py")), str(nr_port)]
    )
    result: dict = {"store": store, "exchanges": count, "workers": worker_count}
    hub = None
    try:
        hub = subprocess.Popen([*CLI, "serve", "--port", str(port)], env=env)
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/ready", hub, timeout=120)
        client = f"{country.BY_KEY['welfare'].number}:case-app"
        key = json.loads(client_key_path(tmp, client).read_text())
        token = httpx.post(
            f"{base}/oauth/token", data=token_request(client, f"{base}/oauth/token", key)
        ).json()["access_token"]
        welfare = country.BY_KEY["welfare"].number
        held = [
            line["subject"]
            for line in country.directory_lines(country.persons(persons))
            if line["institution"] == welfare and line.get("phase") != "provisional"
        ][:500]
        bodies = [json.dumps({"subject": s, "purpose": "SOCIAL_INTEGRATION"}) for s in held]
        asyncio.run(exchanges(base, token, bodies, 50))  # every worker warmed up
        before = store_bytes(store, store_url, tmp)
        pids = workers(hub.pid)
        result["worker_rss_mib_idle"] = max(rss_mib(p) for p in pids)
        if store == "postgres":
            sampler = Connections(admin, database)
            result["pg_connections_idle"] = sampler.count()
            with sampler:
                failures = asyncio.run(exchanges(base, token, bodies, count))
            result["pg_connections_peak"] = sampler.peak
        else:
            failures = asyncio.run(exchanges(base, token, bodies, count))
        result["failed"] = failures
        result["worker_rss_mib_loaded"] = max(rss_mib(p) for p in workers(hub.pid))
        if workers(hub.pid) != [hub.pid]:  # a supervisor apart from its workers
            result["supervisor_rss_mib"] = rss_mib(hub.pid)
    finally:
        if hub is not None:
            hub.send_signal(signal.SIGTERM)
            hub.wait(60)
        source.send_signal(signal.SIGTERM)
        source.wait(30)
    try:
        after = store_bytes(store, store_url, tmp)
        result["bytes_per_exchange"] = round((after["total"] - before["total"]) / count)
        if store == "postgres":
            result["audit_bytes_per_exchange"] = round(
                sum(after.get(t, 0) - before.get(t, 0) for t in AUDIT_TABLES) / count
            )
            result["bytes_per_exchange_by_table"] = {
                t: round((after[t] - before.get(t, 0)) / count)
                for t in sorted(after)
                if t != "total" and after[t] != before.get(t, 0)
            }
    finally:
        if store == "postgres":
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--exchanges", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--persons", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    print_figures(run(args.store, args.exchanges, args.workers, args.persons), args.json)


if __name__ == "__main__":
    main()
