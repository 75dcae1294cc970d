"""The hub as a real server process (`crossroads serve`), with the providers in another process."""

from __future__ import annotations

import json
import os
import signal
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from crossroads.adapters.keys import make_client_assertion
from crossroads.demo import country
from crossroads.demo.seed import client_key_path

from ..conftest import drop_postgres_database, fresh_postgres_database
from ..support import ASSERTION_TYPE

CLI = [sys.executable, "-m", "crossroads.entrypoints.cli"]


def free_port_block(count: int) -> int:
    """A base port such that base .. base+count-1 are all free, below the ephemeral range (where
    outgoing connections take local ports and could collide with a server started a moment later)."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 32000 - count)
        sockets = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError("no free block of ports")


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"process stopped with {process.returncode}"
        try:
            if httpx.get(url, timeout=0.5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} not ready within {timeout} s")


@pytest.fixture(params=["sqlite", "postgres"])
def running_hub(request, tmp_path):
    data_dir = tmp_path / "demo"
    hub_port = free_port_block(8)
    provider_base = hub_port
    store = None if request.param == "sqlite" else fresh_postgres_database()
    env = {**os.environ, "CROSSROADS_DATA_DIR": str(data_dir), "CROSSROADS_ISSUER": f"http://127.0.0.1:{hub_port}",
           "CROSSROADS_STORE_URL": store or f"sqlite:///{data_dir / 'crossroads.sqlite3'}", "CROSSROADS_WORKERS": "2"}
    seed = subprocess.run([*CLI, "demo", "--persons", "300", "--seed-only", "--data-dir", str(data_dir),
                           "--port", str(hub_port), "--provider-port-base", str(provider_base),
                           "--store-url", env["CROSSROADS_STORE_URL"]], capture_output=True, text=True, timeout=120)
    assert seed.returncode == 0, seed.stderr
    providers = subprocess.Popen([*CLI, "providers", "--jwks", str(data_dir / "hub-jwks.json"), "--port-base", str(provider_base)])
    hub = subprocess.Popen([*CLI, "serve", "--port", str(hub_port)], env=env)
    try:
        wait_ready(f"http://127.0.0.1:{hub_port}/ready", hub)
        yield f"http://127.0.0.1:{hub_port}", data_dir
    finally:
        for process in (hub, providers):
            process.send_signal(signal.SIGTERM)
        for process in (hub, providers):
            process.wait(20)
        if store:
            drop_postgres_database(store)


def test_exchange_through_real_server_and_providers(running_hub):
    base, data_dir = running_hub
    client = f"{country.BY_KEY['welfare'].number}:case-app"
    key = json.loads(client_key_path(data_dir, client).read_text())
    token = httpx.post(f"{base}/oauth/token", data={
        "grant_type": "client_credentials", "client_id": client, "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": make_client_assertion(client, f"{base}/oauth/token", key)}).json()["access_token"]
    subjects = country.persons(300)
    welfare = country.BY_KEY["welfare"].number
    subject = next(line["subject"] for line in country.directory_lines(subjects)
                   if line["institution"] == welfare and line.get("phase") != "provisional")
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(3):  # both worker processes answer with the same token
        answer = httpx.post(f"{base}/v1/exchange/health.affiliation", headers=headers,
                            json={"subject": subject, "purpose": "SOCIAL_INTEGRATION"}, timeout=10)
        assert answer.status_code == 200, answer.text
        assert set(answer.json()["answers"][0]["data"]) == {"fund", "preferential_rate"}
    refused = httpx.post(f"{base}/v1/exchange/person.identity", headers=headers,
                         json={"subject": "85073003329", "purpose": "SOCIAL_INTEGRATION"}, timeout=10)
    assert refused.status_code == 422 and refused.json()["code"] == "invalid_identifier"
    metrics = httpx.get(f"{base}/metrics").text
    assert "crossroads_exchanges_total" in metrics
