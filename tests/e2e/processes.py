"""Real hub processes for the tests that start, kill and restart them: a seeded store, the
demo's providers, and `crossroads serve` processes (the `deployment` fixture, in conftest.py, gives
one per store)."""

from __future__ import annotations

import base64
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import httpx
import psycopg

from crossroads.adapters.keys import make_client_assertion
from crossroads.demo import country
from crossroads.demo.launch import free_port_block, wait_providers, wait_ready
from crossroads.demo.people import DemoCountry
from crossroads.demo.seed import client_key_path

from ..support import ASSERTION_TYPE

CLI = [sys.executable, "-m", "crossroads.entrypoints.cli"]
PERSONS = 200
WELFARE = f"{country.BY_KEY['welfare'].number}:case-app"


class Deployment:
    """A seeded store, the demo's providers, and hub processes started and killed at will."""

    def __init__(self, tmp_path: Path, store_url: str, land: DemoCountry = country.BELGIUM) -> None:
        """`land`: the demo country the hub is seeded with, under its scheme
        (`CROSSROADS_COUNTRY`)."""
        self.land = land
        self.welfare_client = f"{land.by_key['welfare'].number}:case-app"
        self.data_dir = tmp_path / "hub"
        self.base_port = free_port_block(12)
        self.issuer = f"http://127.0.0.1:{self.base_port}"
        self.env = {
            **os.environ,
            "CROSSROADS_DATA_DIR": str(self.data_dir),
            "CROSSROADS_ISSUER": self.issuer,
            "CROSSROADS_STORE_URL": store_url,
            "CROSSROADS_WORKERS": "1",
            "CROSSROADS_TREE_HEAD_EVERY_SECONDS": "0.2",
            "CROSSROADS_SEQUENCER_TAKEOVER_SECONDS": "0.2",
            "CROSSROADS_LOG_LEVEL": "warning",
            "CROSSROADS_COUNTRY": land.code,
        }
        provider_base = self.base_port + 4
        seeded = subprocess.run(
            [
                *CLI,
                "demo",
                "--persons",
                str(PERSONS),
                "--seed-only",
                "--data-dir",
                str(self.data_dir),
                "--port",
                str(self.base_port),
                "--provider-port-base",
                str(provider_base),
                "--store-url",
                store_url,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "CROSSROADS_COUNTRY": land.code},
        )
        assert seeded.returncode == 0, seeded.stderr
        self.providers = subprocess.Popen(
            [
                *CLI,
                "providers",
                "--jwks",
                str(self.data_dir / "hub-jwks.json"),
                "--port-base",
                str(provider_base),
                "--hub",
                self.issuer,
                "--country",
                land.code,
            ],
            stdout=subprocess.DEVNULL,
        )
        wait_providers(provider_base, self.providers)
        self.hubs: dict[int, subprocess.Popen] = {}
        key = json.loads(client_key_path(self.data_dir, self.welfare_client).read_text())
        admin_token = json.loads((self.data_dir / "secrets.json").read_text())["admin_token"]
        self.operator = {"Authorization": f"Bearer {admin_token}"}
        self._key = key
        self.subjects = land.held_by(land.persons(PERSONS), "welfare")

    def url(self, n: int) -> str:
        return f"http://127.0.0.1:{self.base_port + n}"

    def start(self, n: int) -> None:
        process = subprocess.Popen([*CLI, "serve", "--port", str(self.base_port + n)], env=self.env)
        self.hubs[n] = process
        wait_ready(f"{self.url(n)}/ready", process, timeout=60)

    def kill(self, n: int) -> None:
        process = self.hubs.pop(n)
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def stop_all(self) -> None:
        for process in [*self.hubs.values(), self.providers]:
            process.send_signal(signal.SIGTERM)
        for process in [*self.hubs.values(), self.providers]:
            process.wait(20)

    def token(self, n: int) -> str:
        answer = httpx.post(
            f"{self.url(n)}/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": self.welfare_client,
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": make_client_assertion(
                    self.welfare_client, f"{self.issuer}/oauth/token", self._key
                ),
            },
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["access_token"]

    def leader(self, n: int) -> bool:
        metrics = httpx.get(f"{self.url(n)}/metrics", timeout=5).text
        return "crossroads_audit_sequencer_leader 1.0" in metrics

    def head(self, n: int) -> dict:
        return httpx.get(
            f"{self.url(n)}/v1/audit/tree-head", headers=self.operator, timeout=5
        ).json()

    def jwks(self, n: int) -> dict:
        return httpx.get(f"{self.url(n)}/.well-known/jwks.json", timeout=5).json()

    def consistency(self, n: int, first: int, second: int) -> list[bytes]:
        answer = httpx.get(
            f"{self.url(n)}/v1/audit/proofs/consistency",
            headers=self.operator,
            params={"first": first, "second": second},
            timeout=5,
        ).json()
        return [base64.b64decode(h) for h in answer["consistency_path"]]

    def verify_log(self) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*CLI, "audit", "verify"], env=self.env, capture_output=True, text=True, timeout=120
        )

    def scalar(self, query: str, params: tuple = ()):
        """One value read straight from the store the hubs share (SQLite read-only, or
        PostgreSQL), to see what a hub has committed while it works."""
        url = self.env["CROSSROADS_STORE_URL"]
        if url.startswith("sqlite:///"):
            path = url.removeprefix("sqlite:///")
            with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)) as db:
                return db.execute(query, params).fetchone()[0]
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as db:
            return db.execute(query.replace("?", "%s"), params).fetchone()[0]

    def audit_records(self) -> list[dict]:
        """Every record of the store's audit log, decoded, oldest first (read by another
        process, as an auditor would)."""
        script = (
            "import asyncio, json, sys\n"
            "from crossroads.adapters.sql.store import open_store\n"
            "async def main():\n"
            "    store = await open_store(sys.argv[1])\n"
            "    seen, start = [], 0\n"
            "    while True:\n"
            "        rows = await store.audit.read(start, 5000)\n"
            "        if not rows: break\n"
            "        seen += [json.loads(r) for _, r in rows]\n"
            "        start = rows[-1][0] + 1\n"
            "    await store.close()\n"
            "    print(json.dumps(seen))\n"
            "asyncio.run(main())\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", script, self.env["CROSSROADS_STORE_URL"]],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        return json.loads(out)

    def logged_client_request_ids(self) -> set[str]:
        return {r.get("client_request_id") for r in self.audit_records()}


def wait_for(condition, timeout: float = 20.0, what: str = "condition", every: float = 0.1):
    """The first true value of `condition()`, asked every `every` seconds until `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")
