"""Declarations benchmark: a whole DmfA file validated, checked and stored; DIMONA through the API.

    crossroads bench declarations [--workers N] [--seconds S] [--connections C] [--store sqlite|postgres] [--json]

1. DmfA: one employer's quarterly file with N worker lines (100,000 by default), in the official
   XML (about 1 KB a line), uploaded as a batch file and processed by the same code the hub's
   batch worker runs: safe parse, XSD validation, code lists, the cross-check of every worker
   against the DIMONA periods of the quarter (loaded beforehand, one per worker), the recomputed
   contributions, and storage of the declaration, the workers' quarterly wages and the
   `wages.declared` mutations to publish. Timed from upload to the stored acknowledgement.
2. DIMONA: `crossroads serve --workers 2` on the demo, and wrk (Debian package) posting DIMONA INs
   in their JSON form for the payroll office, each about a new worker (valid INSS made by the Lua
   script), for S seconds. Every request is the full path: token, schema, rules, one transaction,
   audit record.
"""

from __future__ import annotations

import argparse
import asyncio
import json
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

from crossroads.adapters.keys import make_client_assertion
from crossroads.bootstrap import bootstrap, settings_for_data_dir
from crossroads.demo import country, employers
from crossroads.demo.dmfa_file import WorkerLineSpec, dmfa_xml
from crossroads.demo.launch import free_port_block, wait_ready
from crossroads.demo.seed import client_key_path
from crossroads.services.auth import Caller
from exchange import ASSERTION_TYPE, CLI, cpu_seconds, wrk  # the sibling benchmark's helpers (bench/ is on sys.path)
from report import print_figures  # bench/report.py, beside this script

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
    '"}, "NaturalPerson": {"INSS": "' .. inss(k) .. '"}, "DimonaFeatures": {"WorkerType": "OTH", "JointCommissionNbr": "XXX"}}}'
  return wrk.format("POST", "/v1/declarations/dimona", {["Content-Type"] = "application/json", ["Authorization"] = "%s"}, body)
end
"""


def store_for(store: str, tmp: Path) -> tuple[str, str | None]:
    if store == "sqlite":
        return f"sqlite:///{tmp / 'crossroads.sqlite3'}", None
    admin = os.environ.get("CROSSROADS_BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
    database = f"crossroads_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    return admin.rsplit("/", 1)[0] + f"/{database}", database


def drop(database: str | None) -> None:
    if database:
        admin = os.environ.get("CROSSROADS_BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


async def dmfa(workers: int, store: str) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="crossroads-bench-dmfa-"))
    store_url, database = store_for(store, tmp)
    try:
        settings = settings_for_data_dir(tmp, store_url=store_url, declarations_source=country.BY_KEY["nsso"].number)
        hub = await bootstrap(settings)
        try:
            company_id, noss, name = employers.EMPLOYERS[0]
            await hub.declarations.put_employer(company_id, noss, name, True)
            subjects = country.persons(workers, seed=11)
            async with hub.store.db.transaction() as tx:  # set-up: every worker has a DIMONA period
                await tx.insert_rows("dimona_periods", ("employer", "inss", "worker_type", "joint_committee", "start_date",
                                                        "end_date", "status"),
                                     [(company_id, s, "OTH", "XXX", "2025-01-01", None, "open") for s in subjects])
            document = dmfa_xml(20263, noss, company_id, [WorkerLineSpec(s) for s in subjects],
                                hub.declarations.dmfa_rates)
            operator = Caller(None, None, operator=True)
            started = time.perf_counter()
            batch, _ = await hub.declaration_batches.upload(operator, "dmfa", document, "application/xml", "en")
            await hub.declaration_batches.process_waiting()
            seconds = time.perf_counter() - started
            done = await hub.store.declarations.batch(batch.id)
            [declaration] = await hub.store.declarations.batch_declarations(batch.id)
            stored = len(await hub.store.db.fetchall("SELECT 1 FROM quarterly_wages"))
        finally:
            await hub.close()
    finally:
        drop(database)
        shutil.rmtree(tmp, ignore_errors=True)
    return {"dmfa_worker_lines": declaration.summary.get("worker_lines", 0), "dmfa_bytes": len(document),
            "dmfa_seconds": round(seconds, 2), "dmfa_result": done.status, "dmfa_anomalies": len(declaration.anomalies),
            "dmfa_wage_rows_stored": stored}


def dimona(seconds: int, connections: int, store: str, offset: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="crossroads-bench-dimona-"))
    store_url, database = store_for(store, tmp)
    port = free_port_block(8)
    env = {**os.environ, "CROSSROADS_DATA_DIR": str(tmp), "CROSSROADS_STORE_URL": store_url,
           "CROSSROADS_ISSUER": f"http://127.0.0.1:{port}", "CROSSROADS_WORKERS": "2", "CROSSROADS_LOG_LEVEL": "warning",
           "CROSSROADS_TOKEN_TTL_SECONDS": "3600", "CROSSROADS_DECLARATIONS_SOURCE": country.BY_KEY["nsso"].number}
    server = None
    try:
        subprocess.run([*CLI, "demo", "--persons", "200", "--seed-only", "--data-dir", str(tmp), "--port", str(port),
                        "--provider-port-base", str(port), "--store-url", store_url], env=env, check=True, capture_output=True)
        server = subprocess.Popen([*CLI, "serve", "--port", str(port)], env=env)
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/ready", server, timeout=60)
        client = f"{country.BY_KEY['payroll'].number}:payroll-app"
        key = json.loads(client_key_path(tmp, client).read_text())
        token = httpx.post(f"{base}/oauth/token", data={
            "grant_type": "client_credentials", "client_id": client, "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": make_client_assertion(client, f"{base}/oauth/token", key)}).json()["access_token"]
        companies = ", ".join(json.dumps(c) for c, _, _ in employers.EMPLOYERS)
        today = date.today().isoformat()
        script = lambda start: LUA % (2, companies, start, today, f"Bearer {token}")  # noqa: E731
        wrk(f"{base}/v1/declarations/dimona", script(offset), 3, connections)  # warm-up, other workers
        before = cpu_seconds(server.pid)
        measured = wrk(f"{base}/v1/declarations/dimona", script(offset + 5_000_000), seconds, connections)
        cpu = cpu_seconds(server.pid) - before
        results = {r[0]: r[1] for r in _count(store_url)}
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            server.wait(30)
        drop(database)
        shutil.rmtree(tmp, ignore_errors=True)
    return {"dimona_per_s": measured["throughput_per_s"], "dimona_p50_ms": measured["p50_ms"],
            "dimona_p99_ms": measured["p99_ms"], "dimona_requests": measured["requests"], "errors": measured["errors"],
            "dimona_results": results, "hub_cpu_ms_per_dimona": round(cpu * 1000 / max(measured["requests"], 1), 3)}


def _count(store_url: str) -> list[tuple[str, int]]:
    query = "SELECT status, COUNT(*) FROM declarations WHERE kind = 'dimona' GROUP BY status"
    if store_url.startswith("sqlite"):
        import sqlite3
        with sqlite3.connect(store_url[len("sqlite:///"):]) as conn:
            return conn.execute(query).fetchall()
    with psycopg.connect(store_url) as conn:
        return conn.execute(query).fetchall()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=100_000, help="DmfA worker lines")
    parser.add_argument("--seconds", type=int, default=20, help="DIMONA load duration")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    result = {"store": args.store, **asyncio.run(dmfa(args.workers, args.store)),
              **dimona(args.seconds, args.connections, args.store, 0)}
    print_figures(result, args.json)


if __name__ == "__main__":
    main()
