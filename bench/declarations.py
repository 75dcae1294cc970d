"""Declarations benchmark: a whole DmfA file validated, checked and stored; DIMONA through the API.

    crossroads bench declarations [--workers N] [--seconds S] [--connections C]
        [--store sqlite|postgres] [--json]

1. DmfA: one employer's quarterly file with N worker lines (100,000 by default), in the official
   XML (about 1 KB a line, 103 MB: the largest file accepted), uploaded as a batch file to
   `crossroads serve` (one process, so the one that leads) on the demo, and processed by its batch
   worker process: safe parse, XSD validation, code lists, the cross-check of every worker against
   the DIMONA periods of the quarter (loaded beforehand, one per worker), the recomputed
   contributions, and storage of the declaration, the workers' quarterly wages and the
   `wages.declared` mutations to publish. Timed from the start of the upload to the stored
   acknowledgement (the worker is started beforehand by a one-form file). All along, another
   connection asks `/health` every 10 ms: its p99 and maximum while the file is processed, and its
   maximum while the file is uploaded (the hub reads, hashes and stores the body).
2. DIMONA: `crossroads serve --workers 2` on the demo, and wrk (Debian package) posting DIMONA INs
   in their JSON form for the payroll office, each about a new worker (valid INSS made by the Lua
   script), for S seconds. Every request is the full path: token, schema, rules, one transaction,
   audit record.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

import httpx
import psycopg
from exchange import (
    ASSERTION_TYPE,
    CLI,
    cpu_seconds,
    wrk,
)  # the sibling benchmark's helpers (bench/ is on sys.path)
from report import print_figures  # bench/report.py, beside this script

from crossroads.adapters.keys import make_client_assertion
from crossroads.bootstrap import bootstrap, settings_for_data_dir
from crossroads.demo import country, employers
from crossroads.demo.dmfa_file import WorkerLineSpec, dmfa_xml
from crossroads.demo.launch import free_port_block, wait_ready
from crossroads.demo.seed import client_key_path

# Each request a DIMONA IN about a worker no other request names: the k-th request overall
# (across wrk's threads) gets the k-th national number of a sequence over birth dates and serials.
LUA = """
local threads = {}
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  tid = tonumber(wrk.thread:get("tid"))
  nthreads = %d
  i = 0
end
local employers = {%s}
local function inss(k)
  local serial = k %% 997 + 1
  local rest = math.floor(k / 997)
  local dd = rest %% 28 + 1
  rest = math.floor(rest / 28)
  local mm = rest %% 12 + 1
  local yy = 40 + math.floor(rest / 12)
  local base = ((yy * 100 + mm) * 100 + dd) * 1000 + serial
  return string.format("%%02d%%02d%%02d%%03d%%02d", yy, mm, dd, serial, 97 - base %% 97)
end
request = function()
  local k = i * nthreads + tid + %d
  i = i + 1
  local employer = employers[(k %% #employers) + 1]
  local body = '{"DimonaIn": {"StartingDate": "%s", "EmployerId": {"CompanyID": "' .. employer ..
    '"}, "NaturalPerson": {"INSS": "' .. inss(k) ..
    '"}, "DimonaFeatures": {"WorkerType": "OTH", "JointCommissionNbr": "XXX"}}}'
  local headers = {["Content-Type"] = "application/json", ["Authorization"] = "%s"}
  return wrk.format("POST", "/v1/declarations/dimona", headers, body)
end
"""


def store_for(store: str, tmp: Path) -> tuple[str, str | None]:
    if store == "sqlite":
        return f"sqlite:///{tmp / 'crossroads.sqlite3'}", None
    admin = os.environ.get(
        "CROSSROADS_BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    database = f"crossroads_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    return admin.rsplit("/", 1)[0] + f"/{database}", database


def drop(database: str | None) -> None:
    if database:
        admin = os.environ.get(
            "CROSSROADS_BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
        )
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def seed_demo(tmp: Path, store_url: str, port: int, env: dict) -> None:
    subprocess.run(
        [
            *CLI,
            "demo",
            "--persons",
            "200",
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


def payroll_token(base: str, tmp: Path) -> str:
    client = f"{country.BY_KEY['payroll'].number}:payroll-app"
    key = json.loads(client_key_path(tmp, client).read_text())
    return httpx.post(
        f"{base}/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": make_client_assertion(client, f"{base}/oauth/token", key),
        },
    ).json()["access_token"]


async def _dmfa_setup(tmp: Path, store_url: str, workers: int) -> bytes:
    """Every worker of the file gets a DIMONA period of the demo's first employer (whom the payroll
    office has a mandate for); the file itself, in the official XML."""
    hub = await bootstrap(settings_for_data_dir(tmp, store_url=store_url), create_keys=True)
    try:
        company_id, noss, _ = employers.EMPLOYERS[0]
        subjects = country.persons(workers, seed=11)
        async with hub.store.db.transaction() as tx:
            await tx.insert_rows(
                "dimona_periods",
                (
                    "employer",
                    "inss",
                    "worker_type",
                    "joint_committee",
                    "start_date",
                    "end_date",
                    "status",
                ),
                [(company_id, s, "OTH", "XXX", "2025-01-01", None, "open") for s in subjects],
            )
        return dmfa_xml(
            20263,
            noss,
            company_id,
            [WorkerLineSpec(s) for s in subjects],
            hub.declarations.dmfa_rates,
        )
    finally:
        await hub.close()


def _probe(base: str, probing, stopping, samples) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        taken = []
        while not stopping.is_set():
            sent = time.monotonic()
            client.get("/health").raise_for_status()
            taken.append((sent, time.monotonic() - sent))
            probing.set()
            stopping.wait(0.01)
    samples.send(taken)


class HealthProbe:
    """GET /health one request after another, every 10 ms, on a connection of its own, from a
    process of its own (a thread here would wait for this process's own work): what a load
    balancer's check sees while the hub works through a batch file. Times are time.monotonic(),
    the same clock in every process."""

    def __init__(self, base: str) -> None:
        context = multiprocessing.get_context("spawn")
        self._probing, self._stopping = context.Event(), context.Event()
        self._received, sending = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_probe, args=(base, self._probing, self._stopping, sending), daemon=True
        )
        self.samples: list[tuple[float, float]] = []  # (when it was sent, seconds to answer)

    def start(self) -> None:
        """Start probing; return once the first answer came."""
        self._process.start()
        if not self._probing.wait(60):
            raise RuntimeError("the /health probe did not start")

    def stop(self) -> None:
        self._stopping.set()
        self.samples = self._received.recv()
        self._process.join()

    def between(self, first: float, last: float) -> list[float]:
        return sorted(latency for sent, latency in self.samples if first <= sent <= last)


def dmfa(workers: int, store: str) -> dict:
    """The largest batch file accepted, through a served hub (one process: the leading one), with
    /health probed all along: during the upload, and while the batch worker processes the file."""
    tmp = Path(tempfile.mkdtemp(prefix="crossroads-bench-dmfa-"))
    store_url, database = store_for(store, tmp)
    port = free_port_block(8)
    env = {
        **os.environ,
        "CROSSROADS_DATA_DIR": str(tmp),
        "CROSSROADS_STORE_URL": store_url,
        "CROSSROADS_ISSUER": f"http://127.0.0.1:{port}",
        "CROSSROADS_WORKERS": "1",
        "CROSSROADS_LOG_LEVEL": "warning",
        "CROSSROADS_DECLARATION_INTERVAL_SECONDS": "0.05",
        "CROSSROADS_DECLARATIONS_SOURCE": country.BY_KEY["nsso"].number,
    }
    server = None
    try:
        seed_demo(tmp, store_url, port, env)
        document = asyncio.run(_dmfa_setup(tmp, store_url, workers))
        server = subprocess.Popen([*CLI, "serve", "--port", str(port)], env=env)
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/ready", server, timeout=60)
        auth = {"Authorization": f"Bearer {payroll_token(base, tmp)}"}
        with httpx.Client(base_url=base, headers=auth, timeout=600) as client:
            warm_up = employers.dimona_in(
                country.persons(1, seed=12)[0], employers.EMPLOYERS[0][0], date.today(), "OTH"
            )
            _wait_done(
                client,
                client.post("/v1/declarations/batches/dimona", json=[warm_up]).headers["location"],
            )
            probe = HealthProbe(base)
            probe.start()
            started = time.monotonic()
            uploaded = client.post(
                "/v1/declarations/batches/dmfa",
                content=document,
                headers={"Content-Type": "application/xml"},
            )
            answered = time.monotonic()
            done = _wait_done(client, uploaded.headers["location"])
            seconds = time.monotonic() - started
            probe.stop()
            ack = client.get(uploaded.headers["location"] + "/acknowledgement").json()
        [declaration] = ack["declarations"]
        [(_, stored)] = _count(store_url, "SELECT 'wages', COUNT(*) FROM quarterly_wages")
        while_processed, while_uploaded = (
            probe.between(answered, started + seconds),
            probe.between(started, answered),
        )
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            server.wait(60)
        drop(database)
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "dmfa_worker_lines": declaration["summary"].get("worker_lines", 0),
        "dmfa_bytes": len(document),
        "dmfa_seconds": round(seconds, 2),
        "dmfa_result": done["result"],
        "dmfa_anomalies": len(declaration["anomalies"]),
        "dmfa_wage_rows_stored": stored,
        "health_probes_while_processed": len(while_processed),
        "health_p99_ms_while_processed": _ms(while_processed, 0.99),
        "health_max_ms_while_processed": _ms(while_processed, 1.0),
        "health_max_ms_while_uploaded": _ms(while_uploaded, 1.0),
    }


def _wait_done(client: httpx.Client, location: str) -> dict:
    while (status := client.get(location).json())["result"] == "S":
        time.sleep(0.05)
    return status


def _ms(latencies: list[float], quantile: float) -> float | None:
    if not latencies:
        return None
    return round(latencies[min(int(quantile * len(latencies)), len(latencies) - 1)] * 1000, 1)


def dimona(seconds: int, connections: int, store: str, offset: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="crossroads-bench-dimona-"))
    store_url, database = store_for(store, tmp)
    port = free_port_block(8)
    env = {
        **os.environ,
        "CROSSROADS_DATA_DIR": str(tmp),
        "CROSSROADS_STORE_URL": store_url,
        "CROSSROADS_ISSUER": f"http://127.0.0.1:{port}",
        "CROSSROADS_WORKERS": "2",
        "CROSSROADS_LOG_LEVEL": "warning",
        "CROSSROADS_TOKEN_TTL_SECONDS": "3600",
        "CROSSROADS_DECLARATIONS_SOURCE": country.BY_KEY["nsso"].number,
    }
    server = None
    try:
        seed_demo(tmp, store_url, port, env)
        server = subprocess.Popen([*CLI, "serve", "--port", str(port)], env=env)
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/ready", server, timeout=60)
        token = payroll_token(base, tmp)
        companies = ", ".join(json.dumps(c) for c, _, _ in employers.EMPLOYERS)
        today = date.today().isoformat()
        script = lambda start: LUA % (2, companies, start, today, f"Bearer {token}")  # noqa: E731
        wrk(
            f"{base}/v1/declarations/dimona", script(offset), 3, connections
        )  # warm-up, other workers
        before = cpu_seconds(server.pid)
        measured = wrk(
            f"{base}/v1/declarations/dimona", script(offset + 5_000_000), seconds, connections
        )
        cpu = cpu_seconds(server.pid) - before
        results = {
            r[0]: r[1]
            for r in _count(
                store_url,
                "SELECT status, COUNT(*) FROM declarations WHERE kind = 'dimona' GROUP BY status",
            )
        }
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            server.wait(30)
        drop(database)
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "dimona_per_s": measured["throughput_per_s"],
        "dimona_p50_ms": measured["p50_ms"],
        "dimona_p99_ms": measured["p99_ms"],
        "dimona_requests": measured["requests"],
        "errors": measured["errors"],
        "dimona_results": results,
        "hub_cpu_ms_per_dimona": round(cpu * 1000 / max(measured["requests"], 1), 3),
    }


def _count(store_url: str, query: str) -> list[tuple[str, int]]:
    if store_url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(store_url[len("sqlite:///") :]) as conn:
            return conn.execute(query).fetchall()
    with psycopg.connect(store_url) as conn:
        return conn.execute(query).fetchall()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=100_000, help="DmfA worker lines")
    parser.add_argument("--seconds", type=int, default=20, help="DIMONA load duration")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    result = {
        "store": args.store,
        **dmfa(args.workers, args.store),
        **dimona(args.seconds, args.connections, args.store, 0),
    }
    print_figures(result, args.json)


if __name__ == "__main__":
    main()
