"""Federation benchmark: cross-hub exchanges through two hubs, and one hub's own, in the same run.

    crossroads bench federation [--store sqlite|postgres] [--seconds S] [--connections C] [--json]

Two hubs (A and B, each `crossroads serve` with its own store and data folder, BENCH_WORKERS
workers each, 1 by default) federated as docs/federation.md sets them up
(`crossroads.demo.federation`), each in front of the static provider (bench/static_provider.py).
wrk asks hub A for `b.person.identity`: A checks its side and forwards, signed, to B, which checks
its own and asks its provider; both audit. Then, in the same run, wrk asks hub A for its own
`person.identity` (`single_hub_throughput_per_s`). Both hubs share the machine's cores, so a
cross-hub exchange, two full exchanges, costs about twice the CPU of one.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psycopg
from exchange import ASSERTION_TYPE, CLI, LUA, lua_bodies, wrk  # bench/exchange.py
from process_cpu import cpu_seconds  # bench/process_cpu.py
from report import print_figures  # bench/report.py, beside this script

from crossroads.adapters.keys import make_client_assertion
from crossroads.demo import country
from crossroads.demo.federation import HubSide, federate
from crossroads.demo.launch import free_port_block, wait_ready
from crossroads.demo.seed import client_key_path

PG_ADMIN = os.environ.get(
    "CROSSROADS_BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)


class Hub:
    """One seeded hub, its static provider and its `crossroads serve`."""

    def __init__(self, instance: str, store: str, persons: int) -> None:
        self.instance = instance
        self.tmp = Path(tempfile.mkdtemp(prefix=f"crossroads-bench-{instance}-"))
        self.port = free_port_block(12)
        self.database = None
        if store == "postgres":
            self.database = f"crossroads_bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.database}"')
            store_url = PG_ADMIN.rsplit("/", 1)[0] + f"/{self.database}"
        else:
            store_url = f"sqlite:///{self.tmp / 'crossroads.sqlite3'}"
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "CROSSROADS_DATA_DIR": str(self.tmp),
            "CROSSROADS_STORE_URL": store_url,
            "CROSSROADS_ISSUER": self.url,
            "CROSSROADS_WORKERS": os.environ.get("BENCH_WORKERS", "1"),
            "CROSSROADS_LOG_LEVEL": "warning",
            "CROSSROADS_REGISTRY_CACHE_SECONDS": "5",
            "CROSSROADS_TOKEN_TTL_SECONDS": "3600",
            "CROSSROADS_FEDERATION_INSTANCE": instance,
        }
        provider_base = self.port + 1
        subprocess.run(
            [
                *CLI,
                "demo",
                "--persons",
                str(persons),
                "--seed-only",
                "--data-dir",
                str(self.tmp),
                "--port",
                str(self.port),
                "--provider-port-base",
                str(provider_base),
                "--store-url",
                store_url,
            ],
            env=self.env,
            check=True,
            capture_output=True,
        )
        nr_port = provider_base + country.BY_KEY["nr"].port_offset
        static = Path(__file__).with_name("static_provider.py")
        self.processes = [
            subprocess.Popen([sys.executable, str(static), str(nr_port)]),
            subprocess.Popen([*CLI, "serve", "--port", str(self.port)], env=self.env),
        ]
        wait_ready(f"{self.url}/ready", self.processes[1], timeout=60)

    @property
    def side(self) -> HubSide:
        token = json.loads((self.tmp / "secrets.json").read_text())["admin_token"]
        return HubSide(self.instance, self.url, self.tmp, token)

    def token(self, client: str) -> str:
        key = json.loads(client_key_path(self.tmp, client).read_text())
        return httpx.post(
            f"{self.url}/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client,
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": make_client_assertion(client, f"{self.url}/oauth/token", key),
            },
        ).json()["access_token"]

    def stop(self) -> None:
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            process.wait(30)
        if self.database:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        shutil.rmtree(self.tmp, ignore_errors=True)


def run(store: str, seconds: int, connections: int, persons: int) -> dict:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    hubs: list[Hub] = []
    try:
        hubs.append(Hub("A", store, persons))
        hubs.append(Hub("B", store, persons))
        a, b = hubs
        welfare = country.BY_KEY["welfare"].number
        with httpx.Client(timeout=10) as http:
            [remote] = federate(a.side, b.side, [welfare], ["person.identity"], http)
        token = a.token(f"{welfare}:case-app")
        held = [
            line["subject"]
            for line in country.directory_lines(country.persons(persons))
            if line["institution"] == welfare and line.get("phase") != "provisional"
        ][:200]
        bodies = lua_bodies(
            [json.dumps({"subject": s, "purpose": "SOCIAL_INTEGRATION"}) for s in held]
        )
        for _ in range(50):  # the hubs see the federation folders within a second or two
            check = httpx.post(
                f"{a.url}/v1/exchange/{remote}",
                json={"subject": held[0], "purpose": "SOCIAL_INTEGRATION"},
                headers={"Authorization": f"Bearer {token}"},
            )
            if check.status_code == 200:
                break
            time.sleep(0.2)
        check.raise_for_status()

        def load(path: str, duration: int) -> dict:
            """wrk's figures, and the CPU each hub process (and its workers) spent per request:
            what a change to the code moves, where throughput drifts with the machine's load."""
            before = [cpu_seconds(hub.processes[1].pid) for hub in (a, b)]
            figures = wrk(
                f"{a.url}{path}",
                LUA % (bodies, path, f"Bearer {token}", ""),
                duration,
                connections,
            )
            spent = [
                cpu_seconds(h.processes[1].pid) - t for h, t in zip((a, b), before, strict=True)
            ]
            requests = max(figures["requests"], 1)
            figures["cpu_ms"] = [round(s * 1000 / requests, 3) for s in spent]
            return figures

        load(f"/v1/exchange/{remote}", 3)  # warm both hubs' caches and connections
        crossing = load(f"/v1/exchange/{remote}", seconds)
        single = load("/v1/exchange/person.identity", seconds)
    finally:
        for hub in hubs:
            hub.stop()
    return {
        "store": store,
        "seconds": seconds,
        "connections": connections,
        "workers_per_hub": int(os.environ.get("BENCH_WORKERS", "1")),
        "throughput_per_s": crossing["throughput_per_s"],
        "p50_ms": crossing["p50_ms"],
        "p99_ms": crossing["p99_ms"],
        "errors": crossing["errors"],
        "requests": crossing["requests"],
        "single_hub_throughput_per_s": single["throughput_per_s"],
        "single_hub_p99_ms": single["p99_ms"],
        "single_hub_errors": single["errors"],
        "ratio_to_single_hub": round(crossing["throughput_per_s"] / single["throughput_per_s"], 3),
        "hub_a_cpu_ms_per_request": crossing["cpu_ms"][0],
        "hub_b_cpu_ms_per_request": crossing["cpu_ms"][1],
        "single_hub_cpu_ms_per_request": single["cpu_ms"][0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--persons", type=int, default=1000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    print_figures(run(args.store, args.seconds, args.connections, args.persons), args.json)


if __name__ == "__main__":
    main()
