"""The audit log across real hub processes: one sequencer elected among them, take-over when it is
killed, and nothing acknowledged lost when a hub is killed under load (SIGKILL, no clean-up)."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from crossroads.adapters.keys import make_client_assertion
from crossroads.demo import country
from crossroads.demo.launch import free_port_block, wait_ready
from crossroads.demo.seed import client_key_path
from crossroads.verifier import verify_consistency, verify_tree_head

from ..conftest import drop_postgres_database, fresh_postgres_database
from ..support import ASSERTION_TYPE

CLI = [sys.executable, "-m", "crossroads.entrypoints.cli"]
PERSONS = 200
WELFARE = f"{country.BY_KEY['welfare'].number}:case-app"


class Deployment:
    """A seeded store, the demo's providers, and hub processes started and killed at will."""

    def __init__(self, tmp_path: Path, store_url: str) -> None:
        self.data_dir = tmp_path / "hub"
        self.base_port = free_port_block(12)
        self.issuer = f"http://127.0.0.1:{self.base_port}"
        self.env = {**os.environ, "CROSSROADS_DATA_DIR": str(self.data_dir), "CROSSROADS_ISSUER": self.issuer,
                    "CROSSROADS_STORE_URL": store_url, "CROSSROADS_WORKERS": "1",
                    "CROSSROADS_TREE_HEAD_EVERY_SECONDS": "0.2", "CROSSROADS_SEQUENCER_TAKEOVER_SECONDS": "0.2",
                    "CROSSROADS_LOG_LEVEL": "warning"}
        provider_base = self.base_port + 4
        seeded = subprocess.run([*CLI, "demo", "--persons", str(PERSONS), "--seed-only", "--data-dir", str(self.data_dir),
                                 "--port", str(self.base_port), "--provider-port-base", str(provider_base),
                                 "--store-url", store_url], capture_output=True, text=True, timeout=120)
        assert seeded.returncode == 0, seeded.stderr
        self.providers = subprocess.Popen([*CLI, "providers", "--jwks", str(self.data_dir / "hub-jwks.json"),
                                           "--port-base", str(provider_base)], stdout=subprocess.DEVNULL)
        self.hubs: dict[int, subprocess.Popen] = {}
        key = json.loads(client_key_path(self.data_dir, WELFARE).read_text())
        self.operator = {"Authorization": f"Bearer {json.loads((self.data_dir / 'secrets.json').read_text())['admin_token']}"}
        self._key = key
        welfare = country.BY_KEY["welfare"].number
        self.subjects = [line["subject"] for line in country.directory_lines(country.persons(PERSONS))
                         if line["institution"] == welfare and line.get("phase") != "provisional"]

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
        answer = httpx.post(f"{self.url(n)}/oauth/token", data={
            "grant_type": "client_credentials", "client_id": WELFARE, "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": make_client_assertion(WELFARE, f"{self.issuer}/oauth/token", self._key)}, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()["access_token"]

    def leader(self, n: int) -> bool:
        metrics = httpx.get(f"{self.url(n)}/metrics", timeout=5).text
        return "crossroads_audit_sequencer_leader 1.0" in metrics

    def head(self, n: int) -> dict:
        return httpx.get(f"{self.url(n)}/v1/audit/tree-head", headers=self.operator, timeout=5).json()

    def jwks(self, n: int) -> dict:
        return httpx.get(f"{self.url(n)}/.well-known/jwks.json", timeout=5).json()

    def consistency(self, n: int, first: int, second: int) -> list[bytes]:
        answer = httpx.get(f"{self.url(n)}/v1/audit/proofs/consistency", headers=self.operator,
                           params={"first": first, "second": second}, timeout=5).json()
        return [base64.b64decode(h) for h in answer["consistency_path"]]

    def verify_log(self) -> subprocess.CompletedProcess:
        return subprocess.run([*CLI, "audit", "verify"], env=self.env, capture_output=True, text=True, timeout=120)

    def logged_client_request_ids(self) -> set[str]:
        script = ("import asyncio, json, sys\n"
                  "from crossroads.adapters.sql.store import open_store\n"
                  "async def main():\n"
                  "    store = await open_store(sys.argv[1])\n"
                  "    seen, start = [], 0\n"
                  "    while True:\n"
                  "        rows = await store.audit.read(start, 5000)\n"
                  "        if not rows: break\n"
                  "        seen += [json.loads(r).get('client_request_id') for _, r in rows]\n"
                  "        start = rows[-1][0] + 1\n"
                  "    await store.close()\n"
                  "    print(json.dumps(seen))\n"
                  "asyncio.run(main())\n")
        out = subprocess.run([sys.executable, "-c", script, self.env["CROSSROADS_STORE_URL"]],
                             capture_output=True, text=True, timeout=60, check=True).stdout
        return set(json.loads(out))


@pytest.fixture(params=["sqlite", "postgres"])
def deployment(request, tmp_path):
    store = f"sqlite:///{tmp_path / 'hub' / 'crossroads.sqlite3'}" if request.param == "sqlite" else fresh_postgres_database()
    made = Deployment(tmp_path, store)
    try:
        yield made
    finally:
        made.stop_all()
        if request.param == "postgres":
            drop_postgres_database(store)


def wait_for(condition, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def ask(base: str, token: str, subject: str, request_id: str) -> int:
    return httpx.post(f"{base}/v1/exchange/person.identity", timeout=10,
                      headers={"Authorization": f"Bearer {token}", "X-Request-Id": request_id},
                      json={"subject": subject, "purpose": "SOCIAL_INTEGRATION"}).status_code


def test_one_sequencer_among_hub_processes_and_take_over_when_it_is_killed(deployment):
    d = deployment
    d.start(1)
    d.start(2)
    wait_for(lambda: [d.leader(1), d.leader(2)].count(True) == 1, what="exactly one sequencer")
    first, second = (1, 2) if d.leader(1) else (2, 1)
    tokens = {n: d.token(n) for n in (1, 2)}
    for i, subject in enumerate(d.subjects[:10]):
        assert ask(d.url(1 + i % 2), tokens[1 + i % 2], subject, f"before-{i}") == 200
    size_before = wait_for(lambda: (h := d.head(second)).get("tree_size", 0) >= 10 and h["tree_size"],
                           what="a head over the first exchanges")
    head_before = d.head(second)

    d.kill(first)
    wait_for(lambda: d.leader(second), what="the surviving process to take over")
    for i, subject in enumerate(d.subjects[10:20]):
        assert ask(d.url(second), tokens[second], subject, f"after-{i}") == 200
    wait_for(lambda: d.head(second)["tree_size"] >= size_before + 10, what="a head over the later exchanges")

    head_after = d.head(second)
    jwks = d.jwks(second)
    old_size, old_root = verify_tree_head(head_before, jwks)
    new_size, new_root = verify_tree_head(head_after, jwks)
    verify_consistency(old_size, new_size, old_root, new_root, d.consistency(second, old_size, new_size))
    assert {f"before-{i}" for i in range(10)} | {f"after-{i}" for i in range(10)} <= d.logged_client_request_ids()
    checked = d.verify_log()
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_hub_killed_under_load_loses_nothing_it_answered(deployment):
    d = deployment
    d.start(1)
    token = d.token(1)
    answered: list[str] = []
    heads: list[dict] = []
    stop = threading.Event()

    def load(worker: int) -> None:
        with httpx.Client(timeout=5) as http:
            i = 0
            while not stop.is_set():
                request_id = f"load-{worker}-{i}"
                try:
                    status = http.post(f"{d.url(1)}/v1/exchange/person.identity",
                                       headers={"Authorization": f"Bearer {token}", "X-Request-Id": request_id},
                                       json={"subject": d.subjects[i % len(d.subjects)], "purpose": "SOCIAL_INTEGRATION"}).status_code
                except httpx.TransportError:
                    return  # the hub is gone: this request got no answer, so it promised nothing
                if status == 200:
                    answered.append(request_id)
                i += 1

    def watch_heads() -> None:
        while not stop.is_set():
            try:
                heads.append(d.head(1))
            except httpx.TransportError:
                return
            time.sleep(0.05)

    threads = [threading.Thread(target=load, args=(w,)) for w in range(8)] + [threading.Thread(target=watch_heads)]
    for thread in threads:
        thread.start()
    wait_for(lambda: len(answered) >= 300, timeout=60, what="load to be under way")
    d.kill(1)
    stop.set()
    for thread in threads:
        thread.join(10)
    assert len(answered) >= 300

    d.start(1)
    wait_for(lambda: d.head(1).get("tree_size", 0) >= len(answered), what="the restarted hub to sequence the log")
    missing = set(answered) - d.logged_client_request_ids()
    assert not missing, f"{len(missing)} answered exchanges are not in the log, e.g. {sorted(missing)[:3]}"

    latest = d.head(1)
    jwks = d.jwks(1)
    new_size, new_root = verify_tree_head(latest, jwks)
    signed_before = {h["tree_size"]: h for h in heads if "tree_size" in h}
    assert signed_before, "no tree head was seen before the kill"
    for head in signed_before.values():  # every head shown before the crash is a prefix of the log now
        old_size, old_root = verify_tree_head(head, jwks)
        verify_consistency(old_size, new_size, old_root, new_root, d.consistency(1, old_size, new_size))
    checked = d.verify_log()
    assert checked.returncode == 0, checked.stdout + checked.stderr
