"""Automation administers the hub as a service account with its own key, not with the shared
admin token: the CLI against a real `crossroads serve`, and the token's life over HTTP. The
static admin token can be switched off, and rotated by rewriting its file."""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import signal
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from crossroads.adapters.admin_token import AdminToken
from crossroads.adapters.keys import generate_application_key, public_jwk
from crossroads.adapters.sql.store import open_store
from crossroads.demo.launch import free_port_block, wait_ready
from crossroads.domain.audit import AuditRecord
from crossroads.entrypoints.cli import app

from ..conftest import start_demo_hub
from ..support import token_form

CLI = [sys.executable, "-m", "crossroads.entrypoints.cli"]
ADMIN = {"Authorization": "Bearer operator-secret-for-tests"}
ADMIN_ROLE = '{"roles": ["admin"]}'
runner = CliRunner()


@pytest.fixture
def served_hub(tmp_path):
    """`crossroads serve` on its own store, with a service account made on that store first."""
    port = free_port_block(2)
    env = {
        **os.environ,
        "CROSSROADS_DATA_DIR": str(tmp_path),
        "CROSSROADS_STORE_URL": f"sqlite:///{tmp_path / 'hub.sqlite3'}",
        "CROSSROADS_ISSUER": f"http://127.0.0.1:{port}",
        "CROSSROADS_ADMIN_TOKEN_ENABLED": "false",
    }
    made = runner.invoke(app, ["migrate"], env=env)
    assert made.exit_code == 0, made.output
    # A new hub's key first: only the signing hub makes one, and every other command needs it.
    assert runner.invoke(app, ["keys", "init"], env=env).exit_code == 0
    key = tmp_path / "ci.jwk.json"
    account = runner.invoke(
        app,
        ["operators", "add-service", "ci", "--role", "registry-editor", "--key-out", str(key)],
        env=env,
    )
    assert account.exit_code == 0, account.output
    hub = subprocess.Popen([*CLI, "serve", "--port", str(port)], env=env)
    try:
        wait_ready(f"http://127.0.0.1:{port}/ready", hub, timeout=90)  # a busy machine
        yield f"http://127.0.0.1:{port}", key, env
    finally:
        hub.send_signal(signal.SIGTERM)
        hub.wait(20)


def test_the_cli_administers_a_served_hub_as_a_service_account(served_hub, tmp_path):
    url, key, env = served_hub
    call = ["admin", "call", "--hub", url, "--account", "service:ci", "--key", str(key)]
    made = runner.invoke(
        app,
        [*call[:2], "PUT", "/admin/capacities/PENSION", *call[2:], "--body", '{"name": "P"}'],
        env=env,
    )
    assert made.exit_code == 0, made.output
    assert '"code": "PENSION"' in made.output
    refused = runner.invoke(
        app,
        [
            *call[:2],
            "PUT",
            "/admin/operators/service:ci",
            *call[2:],
            "--body",
            '{"roles": ["admin"]}',
        ],
        env=env,
    )
    assert refused.exit_code == 1 and "role_required" in refused.output
    listed = runner.invoke(app, ["operators", "list"], env=env)
    assert "service:ci" in listed.output and "registry-editor" in listed.output

    async def audited():
        store = await open_store(env["CROSSROADS_STORE_URL"])
        try:
            return [AuditRecord.from_canonical(raw) for _, raw in await store.audit.read(0, 1000)]
        finally:
            await store.close()

    entries = asyncio.run(audited())
    assert [(r.action, r.actor) for r in entries if r.action == "capacity.create"] == [
        ("capacity.create", "service:ci")
    ]
    assert [r.actor for r in entries if r.action == "operator.create"] == [
        f"cli:{getpass.getuser()}"
    ]


@pytest.fixture
async def demo(tmp_path):
    hub = await start_demo_hub(tmp_path, persons=20)
    yield hub
    await hub.http.aclose()
    await hub.hub.close()


@pytest.mark.anyio
async def test_a_service_accounts_token_dies_with_its_account(demo):
    private = generate_application_key()
    registered = await demo.http.put(
        "/admin/operators/service:nightly",
        headers=ADMIN,
        json={"roles": ["read-only"], "jwks": {"keys": [public_jwk(private)]}},
    )
    assert registered.status_code == 201, registered.text
    issued = await demo.http.post(
        "/oauth/token", data=token_form("service:nightly", private, "http://hub.test/oauth/token")
    )
    assert issued.status_code == 200, issued.text
    bearer = {"Authorization": f"Bearer {issued.json()['access_token']}"}
    assert (await demo.http.get("/admin/institutions", headers=bearer)).status_code == 200
    wrote = await demo.http.put("/admin/capacities/X", headers=bearer, json={"name": "X"})
    assert wrote.status_code == 403 and wrote.json()["code"] == "role_required"
    # Not an application: the exchange refuses an operator's token.
    asked = await demo.http.post(
        "/v1/exchange/person.identity", headers=bearer, json={"subject": "x", "purpose": "y"}
    )
    assert asked.status_code == 401

    disabled = await demo.http.put(
        "/admin/operators/service:nightly",
        headers=ADMIN,
        json={"roles": ["read-only"], "active": False, "jwks": {"keys": [public_jwk(private)]}},
    )
    assert disabled.status_code == 200
    after = await demo.http.get("/admin/institutions", headers=bearer)
    assert after.status_code == 401 and after.json()["code"] == "unauthenticated"
    again = await demo.http.post(
        "/oauth/token", data=token_form("service:nightly", private, "http://hub.test/oauth/token")
    )
    assert again.status_code == 401 and again.json()["code"] == "invalid_client"


@pytest.mark.anyio
async def test_the_static_admin_token_can_be_switched_off(tmp_path):
    hub = await start_demo_hub(tmp_path, persons=5, admin_token_enabled=False)
    try:
        answer = await hub.http.get("/admin/institutions", headers=ADMIN)
        assert answer.status_code == 401
        assert "disabled" in answer.json()["message"]
    finally:
        await hub.http.aclose()
        await hub.hub.close()


def test_the_admin_token_is_rotated_by_rewriting_its_file(tmp_path):
    path = tmp_path / "admin_token"
    path.write_text("first-token-of-the-hub\n")
    token = AdminToken(path=path, recheck_seconds=0)
    assert token.matches("first-token-of-the-hub")
    path.write_text("second-token-of-the-hub\n")
    os.utime(path, ns=(1, 1))  # a different modification time, whatever the clock's resolution
    assert token.matches("second-token-of-the-hub")
    assert not token.matches("first-token-of-the-hub")
    path.write_text("short")  # refused as a token: the one in force stays
    os.utime(path, ns=(2, 2))
    assert token.matches("second-token-of-the-hub")
    secrets = tmp_path / "secrets.json"
    secrets.write_text(json.dumps({"admin_token": "generated-token-0123"}))
    assert AdminToken(path=secrets, json_key="admin_token").matches("generated-token-0123")
    assert not AdminToken(path=secrets, json_key="admin_token", enabled=False).matches(
        "generated-token-0123"
    )


def test_rotate_admin_token_writes_a_token_the_hub_then_accepts_alone(tmp_path):
    env = {"CROSSROADS_DATA_DIR": str(tmp_path)}
    first = runner.invoke(app, ["operators", "rotate-admin-token"], env=env)
    assert first.exit_code == 0, first.output
    in_force = AdminToken(path=tmp_path / "secrets.json", json_key="admin_token", recheck_seconds=0)
    assert in_force.matches(first.output.strip())
    second = runner.invoke(app, ["operators", "rotate-admin-token"], env=env)
    os.utime(tmp_path / "secrets.json", ns=(7, 7))
    assert in_force.matches(second.output.strip())
    assert not in_force.matches(first.output.strip())

    token_file = tmp_path / "admin_token"
    token_file.write_text("x" * 20)
    third = runner.invoke(
        app,
        ["operators", "rotate-admin-token"],
        env={**env, "CROSSROADS_ADMIN_TOKEN_FILE": str(token_file)},
    )
    assert third.exit_code == 0 and token_file.read_text() == third.output
