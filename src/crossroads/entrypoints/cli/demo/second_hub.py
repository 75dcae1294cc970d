"""`crossroads demo --second-hub`: a neighbouring country's hub (instance B, under the Estonian
scheme, `CROSSROADS_COUNTRY=EE`, seeded with the demo's Estonian country) beside the demo's hub
(instance A, Belgian), federated as docs/federation.md sets two hubs up, A's national register
keeping links between A's national numbers and B's isikukood for the persons who live or work
across the border; and the tour's part that shows one cross-hub exchange and one cross-hub
mutation, made for real once both hubs answer, with commands to do it again that work as printed.

Hub B runs as `crossroads serve` in its own process, with its own store and keys in
DATA_DIR/second-hub, and its authentic sources in another.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
import uuid
from datetime import date
from pathlib import Path

import httpx

from ....adapters.keys import make_client_assertion
from ....demo import country
from ....demo.estonia import ESTONIA
from ....demo.federation import (
    HubSide,
    border_pairs,
    federate,
    federate_identifiers,
    federate_mutations,
    hold_across,
)
from ....demo.launch import wait_providers, wait_ready
from ....demo.seed import client_key_path

CLI = [sys.executable, "-m", "crossroads.entrypoints.cli"]
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
WELFARE = country.BY_KEY["welfare"].number
REGISTER = country.BY_KEY["nr"].number
REGISTER_B = ESTONIA.by_key["nr"].number  # B's population register
BORDER = 10  # the persons who live or work across the border, linked by A's register
SECOND_HUB_OFFSET = 50  # hub B listens on the demo hub's port + 50, its sources from + 150
END_OF_FEDERATION = "That was the federation's part of the tour (docs/federation.md)."


class SecondHub:
    """Hub B's processes: seeded at start, its sources and `crossroads serve` started."""

    def __init__(self, data_dir: Path, port: int, persons: int) -> None:
        self.data_dir = data_dir
        self.persons = persons
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
            "CROSSROADS_COUNTRY": ESTONIA.code,
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
                    "--country",
                    ESTONIA.code,
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


def federate_and_show(
    hub: str, data_dir: Path, second: SecondHub, subject: str, prefix: str, where: str
) -> str:
    """Federate the demo's hub (A, Belgian) with the second (B, Estonian), A's national register
    linking A's national numbers with B's isikukood for the persons who live or work across the
    border, B's directory holding those persons for A's welfare office; then ask across once and
    receive one mutation across once, and return the tour's part about it, with commands that
    work as printed (`prefix` runs crossroads, `where` is the demo's `--data-dir` option, if
    any)."""
    a = _side("A", hub, data_dir)
    b = _side("B", second.url, second.data_dir)
    pairs = border_pairs(country.BELGIUM, ESTONIA, second.persons, BORDER)
    theirs = dict(pairs)[subject]
    # One pair is left for the tour's command that records a link.
    (other_mine, other_theirs), linked = pairs[-1], pairs[:-1]
    welfare_client = f"{WELFARE}:case-app"
    register_client = f"{REGISTER}:register-app"
    register_b_client = f"{REGISTER_B}:register-app"
    with httpx.Client(timeout=10) as http:
        [remote] = federate(a, b, [WELFARE], ["person.identity"], http)
        federate_identifiers(a, "B", REGISTER, WELFARE, http)
        local = federate_mutations(
            a, b, WELFARE, "person.address-change", "SOCIAL_INTEGRATION", http
        )
        hold_across(b, WELFARE, "SOCIAL_ASSISTANCE", [t for _, t in pairs], http)
        register = _bearer(hub, data_dir, register_client, http)
        for mine, yours in linked:
            http.post(
                f"{hub}/v1/identifiers/B/links",
                headers=register,
                json={"subject": mine, "identifier": yours},
            ).raise_for_status()
        welfare = _bearer(hub, data_dir, welfare_client, http)
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
            headers=_bearer(second.url, second.data_dir, register_b_client, http),
            json={
                "id": mutation_id,
                "subject": theirs,
                "effective_date": date.today().isoformat(),
                "payload": {"street": "Rüütli 1", "postcode": "51003", "city": "Tartu"},
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
        json.dumps(
            {"subject": delivered["event"]["subject"], **delivered["event"]["data"]},
            ensure_ascii=False,
        )
        if delivered
        else "(not delivered yet)"
    )
    request_id = asked.json()["request_id"] if asked else "-"
    where_b = f" --data-dir {shlex.quote(str(second.data_dir))}"
    json_header = "-H 'Content-Type: application/json'"
    move = json.dumps(
        {
            "id": f"tour-{uuid.uuid4().hex[:8]}",
            "subject": theirs,
            "effective_date": date.today().isoformat(),
            "payload": {"street": "Pikk 50", "postcode": "10111", "city": "Tallinn"},
        },
        ensure_ascii=False,
    )
    return f"""
Two federated hubs: this one is instance A (Belgian national numbers); a neighbouring country's
hub is instance B on {second.url}, under the Estonian scheme (CROSSROADS_COUNTRY=EE: isikukood
and registry codes; its store, keys and admin token in {second.data_dir}; docs/federation.md).
A's operator pinned B with A's national register as the authority for the links between the two
schemes: it linked {len(linked)} persons who live or work across the border to their isikukood,
B's operator integrated them in B's directory for A's welfare office, and each link is an
authorized, logged service.

One cross-hub exchange: A's national register linked {subject} to B's {theirs}; the welfare
office (a member of A) asked {remote} about {subject}; A checked its authorization, directory and
link, B checked its own side about {theirs}, B's population register answered:
  {exchange_text}
  request id {request_id}, in the audit logs of both hubs.

One cross-hub mutation: B's population register published person.address-change {mutation_id}
about {theirs}; B pushed it to A under B's authorization, A delivered it as {local} about
{subject} (its link) to the welfare office's mailbox under A's authorization:
  {mutation_text}

Ask across yourself, as the welfare office (hub A asks hub B under the link):
  {prefix} ask {remote} {subject} --purpose SOCIAL_INTEGRATION --client {welfare_client}{where}

The link itself is a service, authorized and logged (federation.identifiers):
  TOKEN=$({prefix} token --client {welfare_client}{where})
  curl -s {hub}/v1/identifiers/B -H "Authorization: Bearer $TOKEN" {json_header} \\
       -d '{{"subject": "{subject}", "purpose": "SOCIAL_INTEGRATION"}}'

Only A's national register records links (another person here; the welfare office may then ask
B about {other_mine}, B's {other_theirs}):
  TOKEN=$({prefix} token --client {register_client}{where})
  curl -si {hub}/v1/identifiers/B/links -H "Authorization: Bearer $TOKEN" {json_header} \\
       -d '{{"subject": "{other_mine}", "identifier": "{other_theirs}"}}'

B's population register publishes a move; it reaches the welfare office's mailbox at A about
{subject} (the mailbox command above):
  TOKEN=$({prefix} token --client {register_b_client}{where_b})
  curl -si {second.url}/v1/mutations/person.address-change -H "Authorization: Bearer $TOKEN" \\
       {json_header} -d '{move}'

{END_OF_FEDERATION}
"""
