"""`crossroads demo --second-hub`: a neighbouring hub (instance B, a regional integrator of the same
country, seeded with the same persons) beside the demo's hub (instance A), federated as
docs/federation.md sets two hubs up, and the tour's part that shows one cross-hub exchange and
one cross-hub mutation, made for real once both hubs answer.

Hub B runs as `crossroads serve` in its own process, with its own store and keys in
DATA_DIR/second-hub, and its authentic sources in another.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from datetime import date
from pathlib import Path

import httpx

from ....adapters.keys import make_client_assertion
from ....demo import country
from ....demo.federation import HubSide, federate, federate_mutations
from ....demo.launch import wait_providers, wait_ready
from ....demo.seed import client_key_path

CLI = [sys.executable, "-m", "crossroads.entrypoints.cli"]
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
WELFARE = country.BY_KEY["welfare"].number
REGISTER = country.BY_KEY["nr"].number
SECOND_HUB_OFFSET = 50  # hub B listens on the demo hub's port + 50, its sources from + 150


class SecondHub:
    """Hub B's processes: seeded at start, its sources and `crossroads serve` started."""

    def __init__(self, data_dir: Path, port: int, persons: int) -> None:
        self.data_dir = data_dir
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        provider_base = port + 100
        self.provider_base = provider_base
        env = {
            **os.environ,
            "CROSSROADS_DATA_DIR": str(data_dir),
            "CROSSROADS_ISSUER": self.url,
            "CROSSROADS_STORE_URL": f"sqlite:///{data_dir / 'crossroads.sqlite3'}",
            "CROSSROADS_FEDERATION_INSTANCE": "B",
            "CROSSROADS_ALLOW_INTERNAL_WEBHOOKS": "1",  # the demo's hubs talk on 127.0.0.1
            "CROSSROADS_LOG_LEVEL": "warning",
        }
        seeded = subprocess.run(
            [
                *CLI,
                "demo",
                "--seed-only",
                "--persons",
                str(persons),
                "--data-dir",
                str(data_dir),
                "--port",
                str(port),
                "--provider-port-base",
                str(provider_base),
            ],
            env=env,
            capture_output=True,
            text=True,
        )
        if seeded.returncode != 0:
            raise RuntimeError(f"the second hub could not be seeded: {seeded.stderr[-500:]}")
        self.processes = [
            subprocess.Popen(
                [
                    *CLI,
                    "providers",
                    "--jwks",
                    str(data_dir / "hub-jwks.json"),
                    "--port-base",
                    str(provider_base),
                    "--hub",
                    self.url,
                    "--stop-with",
                    str(os.getpid()),
                ],
                env=env,
            ),
            subprocess.Popen([*CLI, "serve", "--port", str(port)], env=env),
        ]

    def wait(self) -> None:
        wait_providers(self.provider_base, self.processes[0], timeout=90)
        wait_ready(f"{self.url}/ready", self.processes[1], timeout=90)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


def _side(instance: str, url: str, data_dir: Path) -> HubSide:
    token = json.loads((data_dir / "secrets.json").read_text())["admin_token"]
    return HubSide(instance, url, data_dir, token)


def _bearer(url: str, data_dir: Path, client: str, http: httpx.Client) -> dict[str, str]:
    key = json.loads(client_key_path(data_dir, client).read_text())
    answer = http.post(
        f"{url}/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": make_client_assertion(client, f"{url}/oauth/token", key),
        },
    )
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _until(what, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(0.3)
    return None


def federate_and_show(hub: str, data_dir: Path, second: SecondHub, subject: str) -> str:
    """Federate the demo's hub (A) with the second (B), then ask across once and receive one
    mutation across once; the tour's text about it."""
    a = _side("A", hub, data_dir)
    b = _side("B", second.url, second.data_dir)
    with httpx.Client(timeout=10) as http:
        [remote] = federate(a, b, [WELFARE], ["person.identity"], http)
        local = federate_mutations(
            a, b, WELFARE, "person.address-change", "SOCIAL_INTEGRATION", http
        )
        welfare = _bearer(hub, data_dir, f"{WELFARE}:case-app", http)
        subscribed = http.post(
            f"{hub}/v1/subscriptions",
            headers=welfare,
            json={"mutation_type": local, "purpose": "SOCIAL_INTEGRATION"},
        )
        if subscribed.status_code not in (201, 409):
            subscribed.raise_for_status()
        asked = _until(
            lambda: (
                answer
                if (
                    answer := http.post(
                        f"{hub}/v1/exchange/{remote}",
                        headers=welfare,
                        json={"subject": subject, "purpose": "SOCIAL_INTEGRATION"},
                    )
                ).status_code
                == 200
                else None
            )
        )
        mutation_id = f"tour-{uuid.uuid4().hex[:8]}"
        http.post(
            f"{second.url}/v1/mutations/person.address-change",
            headers=_bearer(second.url, second.data_dir, f"{REGISTER}:register-app", http),
            json={
                "id": mutation_id,
                "subject": subject,
                "effective_date": date.today().isoformat(),
                "payload": {"street": "Grote Markt 1", "postcode": "2000", "city": "Antwerpen"},
            },
        ).raise_for_status()

        def received():
            box = http.get(f"{hub}/v1/mailbox", headers=welfare, params={"limit": 1000}).json()
            return next((m for m in box["messages"] if m["event"]["id"] == mutation_id), None)

        delivered = _until(received)
    exchange_text = (
        json.dumps(asked.json()["answers"][0], ensure_ascii=False)
        if asked
        else "(not answered yet)"
    )
    mutation_text = (
        json.dumps(delivered["event"]["data"], ensure_ascii=False)
        if delivered
        else "(not delivered yet)"
    )
    request_id = asked.json()["request_id"] if asked else "-"
    return f"""
Two federated hubs: this one is instance A, a regional integrator is instance B on {second.url}
(its store, keys and admin token in {second.data_dir}; docs/federation.md).

One cross-hub exchange: the welfare office (a member of A) asked {remote} about {subject};
A checked its authorization and directory, B checked its own, B's national register answered:
  {exchange_text}
  request id {request_id}, in the audit logs of both hubs.

One cross-hub mutation: B's national register published person.address-change {mutation_id};
B pushed it to A under B's authorization, A delivered it as {local} to the welfare office's
mailbox under A's authorization:
  {mutation_text}
"""
