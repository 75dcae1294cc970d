"""Mutation benchmark: publish N mutations, each for about 3 subscribers, and time their delivery.

    crossroads bench mutations [--mutations N] [--backend outbox|nats] [--persons P] [--json]

A hub runs as `crossroads serve` (production settings, SQLite by default or --store postgres) with
a demo registry. Every one of P persons is integrated by three institutions in a benchmark
capacity, each subscribed to the benchmark's mutation type: two by webhook, one by its mailbox.
The subscribers run in their own process (bench/mutation_consumers.py); the national register's
application publishes from this process, in batches of 1,000 over HTTP. Printed: `mutations`,
`deliveries`, `deliveries_per_s` (deliveries over the time from the first publication to the last
delivery), `p99_delivery_ms` (from the hub's acceptance to the subscriber's receipt; with
`--rate R` the publications are paced at R per second, so that the delay is that of a sustained
load rather than of a queue the publisher outruns), `duplicates`, `lost`. With `--backend nats`
the hub's pushes wait in a NATS JetStream stream of the run's own (CROSSROADS_BENCH_NATS_URL,
default nats://127.0.0.1:4222) fed from the outbox; the mailbox is read from the outbox either way.

Each figure is reported over `--runs` consecutive runs (3 by default, each on a fresh hub) as
`{min, median, max}`, with `hub_cpu_ms_per_delivery` (the hub processes' CPU from the first
publication to the last delivery, over the deliveries) and `servers_cpu_ms_per_delivery` (the
same for PostgreSQL's backends of the run's database and the NATS server, on the same cores),
and every run's own figures in `each_run`. The hub logs at warning level; BENCH_LOG_LEVEL=info
shows what it does (the sequencer's and push partitions' hand-overs among them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import httpx
import nats
import psycopg
from process_cpu import ServerCpu, cpu_seconds  # bench/process_cpu.py, beside this script
from report import print_figures  # bench/report.py, beside this script

from crossroads.adapters.keys import token_request
from crossroads.demo import country
from crossroads.demo.launch import free_port_block, wait_ready
from crossroads.demo.seed import client_key_path

CLI = [sys.executable, "-m", "crossroads.entrypoints.cli"]
NATS_URL = os.environ.get("CROSSROADS_BENCH_NATS_URL", "nats://127.0.0.1:4222")
TYPE = "bench.change"
CAPACITY = "BENCH_HELD"
PUBLISHER = f"{country.BY_KEY['nr'].number}:register-app"
SUBSCRIBERS = [
    ("welfare", "case-app", None),
    ("unemployment", "benefits-app", "/hooks/unemployment"),
    ("childben", "benefits-app", "/hooks/childben"),
]
BATCH = 1000
LANES = 4  # concurrent publishing connections


def token(hub: str, client: str, data_dir: Path) -> str:
    key = json.loads(client_key_path(data_dir, client).read_text())
    answer = httpx.post(f"{hub}/oauth/token", data=token_request(client, f"{hub}/oauth/token", key))
    answer.raise_for_status()
    return answer.json()["access_token"]


def set_up(hub: str, data_dir: Path, persons: list[str], webhook_port: int) -> None:
    admin_token = json.loads((data_dir / "secrets.json").read_text())["admin_token"]
    operator = {"Authorization": f"Bearer {admin_token}"}
    puts = [
        (f"/admin/capacities/{CAPACITY}", {"name": "Held for the benchmark"}),
        (
            f"/admin/mutation-types/{TYPE}/1",
            {
                "name": "Benchmark change",
                "publisher": country.BY_KEY["nr"].number,
                "fields": ["value", "note"],
                "schema": {"type": "object"},
            },
        ),
    ]
    puts += [
        (
            f"/admin/authorizations/BENCH/{key}",
            {
                "consumer": country.BY_KEY[key].number,
                "service": TYPE,
                "purpose": "BENCHMARK",
                "legal_basis": "benchmark",
                "required_capacities": [CAPACITY],
                "allowed_fields": ["value"],
                "valid_from": "2020-01-01",
            },
        )
        for key, _, _ in SUBSCRIBERS
    ]
    puts += [
        (
            f"/admin/integration-rights/{country.BY_KEY[key].number}/{CAPACITY}",
            {"legal_basis": "benchmark"},
        )
        for key, _, _ in SUBSCRIBERS
    ]
    registered = {
        i["enterprise_number"]: i
        for i in httpx.get(f"{hub}/admin/institutions", headers=operator).json()
    }
    puts += [
        (
            f"/admin/institutions/{number}",
            {  # where their webhooks are: the operator registers it
                "name": registered[number]["name"],
                "base_url": registered[number]["base_url"],
                "webhook_bases": [f"http://127.0.0.1:{webhook_port}/"],
            },
        )
        for number in {country.BY_KEY[key].number for key, _, _ in SUBSCRIBERS}
    ]
    for path, body in puts:
        httpx.put(f"{hub}{path}", json=body, headers=operator).raise_for_status()
    lines = "".join(
        json.dumps(
            {
                "subject": s,
                "institution": country.BY_KEY[key].number,
                "capacity": CAPACITY,
                "start": "2020-01-01",
            }
        )
        + "\n"
        for s in persons
        for key, _, _ in SUBSCRIBERS
    )
    httpx.post(
        f"{hub}/v1/directory/import",
        content=lines,
        timeout=600,
        headers={**operator, "Content-Type": "application/jsonl"},
    ).raise_for_status()
    for key, application, path in SUBSCRIBERS:
        client = f"{country.BY_KEY[key].number}:{application}"
        body = {"mutation_type": TYPE, "purpose": "BENCHMARK"}
        if path:
            body |= {"mode": "push", "webhook_url": f"http://127.0.0.1:{webhook_port}{path}"}
        answer = httpx.post(
            f"{hub}/v1/subscriptions",
            json=body,
            headers={"Authorization": f"Bearer {token(hub, client, data_dir)}"},
        )
        answer.raise_for_status()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else 0.0


def run(
    mutations: int, persons: int, store: str, timeout: float, rate: float | None, backend: str
) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="crossroads-bench-mutations-"))
    port = free_port_block(12)
    webhook_port = port + 10
    database = f"crossroads_bench_{uuid.uuid4().hex[:8]}"
    pg_admin = os.environ.get(
        "CROSSROADS_BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    if store == "postgres":
        with psycopg.connect(pg_admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        store_url = pg_admin.rsplit("/", 1)[0] + f"/{database}"
    else:
        store_url = f"sqlite:///{tmp / 'crossroads.sqlite3'}"
    hub = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "CROSSROADS_DATA_DIR": str(tmp),
        "CROSSROADS_STORE_URL": store_url,
        "CROSSROADS_ISSUER": hub,
        "CROSSROADS_WORKERS": os.environ.get("BENCH_WORKERS", "2"),
        "CROSSROADS_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "warning"),
        "CROSSROADS_PUSH_BATCH": "1000",
        "CROSSROADS_PUSH_INTERVAL_SECONDS": "0.02",
        "CROSSROADS_MAX_BODY_BYTES": str(16 * 1024 * 1024),
        "CROSSROADS_ALLOW_INTERNAL_WEBHOOKS": "true",
    }  # the consumers listen on 127.0.0.1
    stream = f"CROSSROADS_BENCH_{uuid.uuid4().hex[:8]}"
    if backend == "nats":
        env.update(
            {
                "CROSSROADS_MUTATION_BACKEND": "nats",
                "CROSSROADS_NATS_URL": NATS_URL,
                "CROSSROADS_NATS_STREAM": stream,
            }
        )
    subprocess.run(
        [
            *CLI,
            "demo",
            "--persons",
            "100",
            "--seed-only",
            "--data-dir",
            str(tmp),
            "--port",
            str(port),
            "--provider-port-base",
            str(port + 1),
            "--store-url",
            store_url,
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    processes = [subprocess.Popen([*CLI, "serve", "--port", str(port)], env=env)]
    config = tmp / "consumers.json"
    results, ready, progress = tmp / "received.json", tmp / "consumers.ready", tmp / "progress.json"
    welfare_client = f"{country.BY_KEY['welfare'].number}:case-app"
    config.write_text(
        json.dumps(
            {
                "hub": hub,
                "webhook_port": webhook_port,
                "webhook_paths": [p for _, _, p in SUBSCRIBERS if p],
                "mailbox_client": welfare_client,
                "mailbox_key": str(client_key_path(tmp, welfare_client)),
                "results": str(results),
                "ready_file": str(ready),
                "progress": str(progress),
            }
        )
    )
    try:
        wait_ready(f"{hub}/ready", processes[0], timeout=60)
        subjects = country.persons(persons, seed=17)
        set_up(hub, tmp, subjects, webhook_port)
        consumers = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("mutation_consumers.py")), str(config)],
            env=env,
        )
        processes.append(consumers)
        deadline = time.monotonic() + 30
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        publisher = token(hub, PUBLISHER, tmp)
        today = date.today().isoformat()
        expected = mutations * len(SUBSCRIBERS)
        cpu_before = cpu_seconds(processes[0].pid)
        servers = ServerCpu(database if store == "postgres" else None, backend == "nats").start()
        started = time.perf_counter()

        def publish(lane: int) -> None:
            # Each lane its own connection, so that the hub's workers share the publishing. With a
            # rate, batch k is not sent before k * BATCH / rate seconds from the start.
            with httpx.Client(
                timeout=120, headers={"Authorization": f"Bearer {publisher}"}
            ) as http:
                for at in range(lane * BATCH, mutations, BATCH * LANES):
                    if rate:
                        time.sleep(max(0.0, started + at / rate - time.perf_counter()))
                    batch = [
                        {
                            "id": f"b-{n}",
                            "subject": subjects[n % len(subjects)],
                            "effective_date": today,
                            "payload": {"value": n, "note": "x"},
                        }
                        for n in range(at, min(at + BATCH, mutations))
                    ]
                    answer = http.post(
                        f"{hub}/v1/mutations/{TYPE}/batch", json={"mutations": batch}
                    )
                    answer.raise_for_status()
                    refused = [r for r in answer.json()["results"] if r["status"] == "refused"]
                    assert not refused, refused[:3]

        with ThreadPoolExecutor(LANES) as lanes:
            list(lanes.map(publish, range(LANES)))
        published = time.perf_counter() - started
        deadline = time.monotonic() + timeout
        received = 0
        while time.monotonic() < deadline:
            try:
                received = sum(json.loads(progress.read_text()).values())
            except (FileNotFoundError, ValueError):
                received = 0
            if received >= expected:
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        hub_cpu = cpu_seconds(processes[0].pid) - cpu_before
        servers.stop()
        consumers.send_signal(signal.SIGTERM)
        consumers.wait(60)
        tally = json.loads(results.read_text())
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(60)
        if store == "postgres":
            with psycopg.connect(pg_admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        if backend == "nats":
            asyncio.run(_drop_stream(stream))
        # The run's folder holds its database, keys and secrets: nothing of it is kept.
        shutil.rmtree(tmp, ignore_errors=True)
    ids = [i for who in tally["ids"].values() for i in who]
    unique = sum(len(set(who)) for who in tally["ids"].values())
    delays = [d for who in tally["delays"].values() for d in who]
    return {
        "backend": backend,
        "store": store,
        "mutations": mutations,
        "persons": persons,
        "rate": rate,
        "deliveries": len(ids),
        "deliveries_per_s": round(len(ids) / elapsed, 1),
        "publish_per_s": round(mutations / published, 1),
        "p50_delivery_ms": round(percentile(delays, 0.5), 1),
        "p99_delivery_ms": round(percentile(delays, 0.99), 1),
        # Which subscriber lags (the two webhooks share the push path, the mailbox its reads)
        "p99_delivery_ms_by_subscriber": {
            who: round(percentile(each, 0.99), 1) for who, each in sorted(tally["delays"].items())
        },
        "duplicates": len(ids) - unique,
        "lost": expected - unique,
        "seconds": round(elapsed, 1),
        "hub_cpu_ms_per_delivery": round(hub_cpu * 1000 / max(len(ids), 1), 4),
        # The servers' share of the same deliveries, on this machine's cores too: PostgreSQL's
        # backends of the run's database, the NATS server (none for SQLite and the outbox).
        "servers_cpu_ms_per_delivery": round(servers.seconds() * 1000 / max(len(ids), 1), 4),
    }


RANGED = (
    "deliveries_per_s",
    "p50_delivery_ms",
    "p99_delivery_ms",
    "hub_cpu_ms_per_delivery",
    "servers_cpu_ms_per_delivery",
)


def ranges(runs: list[dict]) -> dict:
    """The figures of consecutive runs as ranges: a result is a range, not one lucky run."""
    summary = {k: runs[0][k] for k in ("backend", "store", "mutations", "persons", "rate")}
    summary["runs"] = len(runs)
    for key in RANGED:
        values = sorted(run[key] for run in runs)
        summary[key] = {"min": values[0], "median": values[len(values) // 2], "max": values[-1]}
    summary["duplicates"] = sum(run["duplicates"] for run in runs)
    summary["lost"] = sum(run["lost"] for run in runs)
    summary["each_run"] = runs
    return summary


async def _drop_stream(stream: str) -> None:
    connection = await nats.connect(NATS_URL)
    try:
        await connection.jetstream().delete_stream(stream)
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mutations", type=int, default=1_000_000)
    parser.add_argument("--persons", type=int, default=10_000)
    parser.add_argument("--backend", choices=["outbox", "nats"], default="outbox")
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--timeout",
        type=float,
        default=600,
        help="seconds to wait for the last delivery after publishing",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="mutations published per second (default: as fast as the hub accepts them)",
    )
    parser.add_argument(
        "--runs", type=int, default=3, help="consecutive runs, each on a fresh hub (default 3)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    runs = [
        run(args.mutations, args.persons, args.store, args.timeout, args.rate, args.backend)
        for _ in range(args.runs)
    ]
    print_figures(ranges(runs), args.json)


if __name__ == "__main__":
    main()
