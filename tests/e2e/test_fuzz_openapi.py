"""Fuzz every operation of the OpenAPI document against a real hub: nothing the caller sends is a 5xx."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from crossroads.adapters.keys import make_client_assertion
from crossroads.config import Settings
from crossroads.demo import country
from crossroads.demo.seed import client_key_path
from crossroads.domain.errors import CATALOGUE
from crossroads.entrypoints.api.app import create_app

from ..support import ASSERTION_TYPE
from crossroads.demo.launch import free_port_block, wait_ready

from .test_real_processes import CLI

schema = schemathesis.openapi.from_dict(create_app(Settings(data_dir=Path("unused"))).openapi())
OPERATOR = "fuzz-operator-token-0123456789"


@pytest.fixture(scope="module")
def live_hub(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("fuzz")
    port = free_port_block(8)
    provider_base = port
    env = {**os.environ, "CROSSROADS_DATA_DIR": str(data_dir), "CROSSROADS_ISSUER": f"http://127.0.0.1:{port}",
           "CROSSROADS_STORE_URL": f"sqlite:///{data_dir / 'crossroads.sqlite3'}", "CROSSROADS_ADMIN_TOKEN": OPERATOR}
    seeded = subprocess.run([*CLI, "demo", "--persons", "100", "--seed-only", "--data-dir", str(data_dir),
                             "--port", str(port), "--provider-port-base", str(provider_base)],
                            env=env, capture_output=True, text=True, timeout=120)
    assert seeded.returncode == 0, seeded.stderr
    providers = subprocess.Popen([*CLI, "providers", "--jwks", str(data_dir / "hub-jwks.json"), "--port-base", str(provider_base)])
    hub = subprocess.Popen([*CLI, "serve", "--port", str(port)], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{base}/ready", hub)
        client = f"{country.BY_KEY['welfare'].number}:case-app"
        key = json.loads(client_key_path(data_dir, client).read_text())
        token = httpx.post(f"{base}/oauth/token", data={
            "grant_type": "client_credentials", "client_id": client, "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": make_client_assertion(client, f"{base}/oauth/token", key)}).json()["access_token"]
        yield base, token
    finally:
        for process in (hub, providers):
            process.send_signal(signal.SIGTERM)
        for process in (hub, providers):
            process.wait(20)


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_error(case, live_hub):
    base, token = live_hub
    bearer = OPERATOR if case.path.startswith("/admin") or case.path.startswith("/v1/directory") else token
    response = case.call(base_url=base, headers={"Authorization": f"Bearer {bearer}"})
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}"
    if response.status_code >= 400:
        body = response.json()
        assert body["code"] in CATALOGUE and body["message"], body
