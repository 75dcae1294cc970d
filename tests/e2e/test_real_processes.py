"""The hub as a real server process (`crossroads serve`), with the providers in another process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import httpx
import pytest

from crossroads.adapters.keys import make_client_assertion
from crossroads.demo import country
from crossroads.demo.launch import free_port_block, wait_providers, wait_ready
from crossroads.demo.seed import client_key_path

from ..conftest import drop_postgres_database, fresh_postgres_database
from ..support import ASSERTION_TYPE

CLI = [sys.executable, "-m", "crossroads.entrypoints.cli"]


@pytest.fixture(params=["sqlite", "postgres"])
def running_hub(request, tmp_path):
    data_dir = tmp_path / "demo"
    hub_port = free_port_block(8)
    provider_base = hub_port
    store = None if request.param == "sqlite" else fresh_postgres_database()
    env = {
        **os.environ,
        "CROSSROADS_DATA_DIR": str(data_dir),
        "CROSSROADS_ISSUER": f"http://127.0.0.1:{hub_port}",
        "CROSSROADS_STORE_URL": store or f"sqlite:///{data_dir / 'crossroads.sqlite3'}",
        "CROSSROADS_WORKERS": "2",
    }
    seed = subprocess.run(
        [
            *CLI,
            "demo",
            "--persons",
            "300",
            "--seed-only",
            "--data-dir",
            str(data_dir),
            "--port",
            str(hub_port),
            "--provider-port-base",
            str(provider_base),
            "--store-url",
            env["CROSSROADS_STORE_URL"],
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert seed.returncode == 0, seed.stderr
    providers = subprocess.Popen(
        [
            *CLI,
            "providers",
            "--jwks",
            str(data_dir / "hub-jwks.json"),
            "--port-base",
            str(provider_base),
        ]
    )
    wait_providers(provider_base, providers)
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
    token = httpx.post(
        f"{base}/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": make_client_assertion(client, f"{base}/oauth/token", key),
        },
    ).json()["access_token"]
    subjects = country.persons(300)
    welfare = country.BY_KEY["welfare"].number
    subject = next(
        line["subject"]
        for line in country.directory_lines(subjects)
        if line["institution"] == welfare and line.get("phase") != "provisional"
    )
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(3):  # both worker processes answer with the same token
        answer = httpx.post(
            f"{base}/v1/exchange/health.affiliation",
            headers=headers,
            json={"subject": subject, "purpose": "SOCIAL_INTEGRATION"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        assert set(answer.json()["answers"][0]["data"]) == {"fund", "preferential_rate"}
    refused = httpx.post(
        f"{base}/v1/exchange/person.identity",
        headers=headers,
        json={"subject": "85073003329", "purpose": "SOCIAL_INTEGRATION"},
        timeout=10,
    )
    assert refused.status_code == 422 and refused.json()["code"] == "invalid_identifier"
    metrics = httpx.get(f"{base}/metrics").text
    assert "crossroads_exchanges_total" in metrics
