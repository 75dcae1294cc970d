"""Mutations through a real hub process killed (SIGKILL) in the middle of publishing: every mutation
the hub accepted reaches every entitled subscriber at least once (by mailbox and by webhook, the
webhook down for a while), none reaches anyone else, and a redelivery carries the same id; with
the pushes waiting in the outbox, and in NATS JetStream fed from it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import threading
import uuid
from collections import defaultdict
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import nats
import pytest
from crossroads.demo import country
from crossroads.demo.launch import free_port_block
from crossroads.demo.seed import client_key_path

from ..support import token_form
from .processes import CLI, wait_for

TYPE = "test.address-change"  # its own type: the demo's are subscribed to by the demo's apps
NR = country.BY_KEY["nr"].number
PUBLISHER = f"{NR}:register-app"
WELFARE = f"{country.BY_KEY['welfare'].number}:case-app"
UNEMPLOYMENT = f"{country.BY_KEY['unemployment'].number}:benefits-app"
NATS_URL = os.environ.get("CROSSROADS_TEST_NATS_URL", "nats://127.0.0.1:4222")
PUSH_SETTINGS = {"CROSSROADS_ALLOW_INTERNAL_WEBHOOKS": "true",  # the test's webhook listens on 127.0.0.1
                 "CROSSROADS_PUSH_RETRY_BASE_SECONDS": "0.05", "CROSSROADS_PUSH_RETRY_MAX_SECONDS": "0.3",
                 "CROSSROADS_PUSH_MAX_ATTEMPTS": "100", "CROSSROADS_PUSH_INTERVAL_SECONDS": "0.05"}


class Webhook:
    """An institution's webhook in this process: real HTTP, on a port that may be closed for a while."""

    def __init__(self) -> None:
        self.port = free_port_block(1)
        self.events: list[dict] = []
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        events = self.events

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                events.extend(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def token(d, n: int, client: str) -> str:
    key = json.loads(client_key_path(d.data_dir, client).read_text())
    answer = httpx.post(f"{d.url(n)}/oauth/token", data=token_form(client, key, f"{d.issuer}/oauth/token"))
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def set_up(d, n: int, webhook: Webhook) -> None:
    """The register (its demo application) publishes address changes; the welfare centre pulls them
    for persons it assists, the employment office has them pushed for job seekers."""
    put = [
        (f"/admin/mutation-types/{TYPE}/1", {"name": "Change of address", "publisher": NR, "fields": ["city", "street"],
                                           "schema": {"type": "object", "required": ["city"]}}),
        ("/admin/authorizations/ISC/99/301", {"consumer": country.BY_KEY["welfare"].number, "service": TYPE,
                                             "purpose": "SOCIAL_INTEGRATION", "legal_basis": "art. 19",
                                             "required_capacities": ["SOCIAL_ASSISTANCE"], "allowed_fields": ["city"],
                                             "valid_from": "2020-01-01"}),
        ("/admin/authorizations/ISC/99/302", {"consumer": country.BY_KEY["unemployment"].number, "service": TYPE,
                                             "purpose": "UNEMPLOYMENT_BENEFIT", "legal_basis": "art. 7",
                                             "required_capacities": ["JOB_SEEKER"], "allowed_fields": ["city", "street"],
                                             "valid_from": "2020-01-01"})]
    [unemployment] = [i for i in httpx.get(f"{d.url(n)}/admin/institutions", headers=d.operator).json()
                      if i["enterprise_number"] == country.BY_KEY["unemployment"].number]
    put.append((f"/admin/institutions/{unemployment['enterprise_number']}", {  # where its webhook is: the operator registers it
        "name": unemployment["name"], "base_url": unemployment["base_url"], "webhook_bases": [f"http://127.0.0.1:{webhook.port}/"]}))
    for path, body in put:
        answer = httpx.put(f"{d.url(n)}{path}", headers=d.operator, json=body)
        assert answer.status_code in (200, 201), answer.text
    for client, body in [(WELFARE, {"purpose": "SOCIAL_INTEGRATION"}),
                         (UNEMPLOYMENT, {"purpose": "UNEMPLOYMENT_BENEFIT", "mode": "push",
                                         "webhook_url": f"http://127.0.0.1:{webhook.port}/events"})]:
        answer = httpx.post(f"{d.url(n)}/v1/subscriptions", headers={"Authorization": f"Bearer {token(d, n, client)}"},
                            json={"mutation_type": TYPE, **body})
        assert answer.status_code == 201, answer.text


def entitled(subject: str) -> set[str]:
    # The authorizations set up above do not accept provisional integrations.
    held = {(line["institution"], line["capacity"]) for line in country.directory_lines([subject])
            if line.get("phase", "definitive") == "definitive"}
    return ({WELFARE} if (country.BY_KEY["welfare"].number, "SOCIAL_ASSISTANCE") in held else set()) | (
        {UNEMPLOYMENT} if (country.BY_KEY["unemployment"].number, "JOB_SEEKER") in held else set())


def pull_everything(d, n: int) -> list[dict]:
    """Read the welfare centre's mailbox to the end, acknowledging as it goes."""
    bearer = {"Authorization": f"Bearer {token(d, n, WELFARE)}"}
    events = []
    while True:
        page = httpx.get(f"{d.url(n)}/v1/mailbox?limit=500", headers=bearer).json()["messages"]
        if not page:
            return events
        events += [m["event"] for m in page]
        assert httpx.post(f"{d.url(n)}/v1/mailbox/ack", headers=bearer, json={"seqs": [m["seq"] for m in page]}).status_code == 200


@pytest.fixture(params=["outbox", "nats"])
def backend(request, deployment):
    """Where pushes wait: the outbox itself, or a NATS JetStream stream of this test's own."""
    if request.param == "outbox":
        yield {}
        return
    stream = f"CROSSROADS_TEST_{uuid.uuid4().hex[:10]}"
    yield {"CROSSROADS_MUTATION_BACKEND": "nats", "CROSSROADS_NATS_URL": NATS_URL, "CROSSROADS_NATS_STREAM": stream,
           "CROSSROADS_NATS_ACK_WAIT_SECONDS": "2"}

    async def drop() -> None:
        connection = await nats.connect(NATS_URL)
        await connection.jetstream().delete_stream(stream)
        await connection.close()
    asyncio.run(drop())


def test_a_hub_killed_while_publishing_loses_no_accepted_mutation_and_leaks_none(deployment, backend):
    d = deployment
    d.env.update(PUSH_SETTINGS)
    d.env.update(backend)
    webhook = Webhook()  # down until after the restart: pushes fail and wait meanwhile
    d.start(1)
    set_up(d, 1, webhook)
    publisher = token(d, 1, PUBLISHER)
    subjects = sorted({line["subject"] for line in country.directory_lines(country.persons(200))})
    accepted: dict[str, str] = {}  # mutation id -> subject
    stop = threading.Event()

    def publish(worker: int) -> None:
        with httpx.Client(timeout=5) as http:
            for i in range(10_000):
                if stop.is_set():
                    return
                mutation_id, subject = f"w{worker}-{i}", subjects[(worker * 7919 + i * 31) % len(subjects)]
                try:
                    answer = http.post(f"{d.url(1)}/v1/mutations/{TYPE}", headers={"Authorization": f"Bearer {publisher}"},
                                       json={"id": mutation_id, "subject": subject, "effective_date": date.today().isoformat(),
                                             "payload": {"city": f"City {i}", "street": "Rue Haute"}})
                except httpx.TransportError:
                    return  # the hub is gone: no answer, so nothing was promised
                assert answer.status_code in (200, 201), answer.text
                accepted[mutation_id] = subject

    workers = [threading.Thread(target=publish, args=(w,)) for w in range(4)]
    for worker in workers:
        worker.start()
    wait_for(lambda: len(accepted) >= 150, timeout=60, what="150 accepted mutations")
    d.kill(1)
    stop.set()
    for worker in workers:
        worker.join(10)

    d.start(1)
    webhook.start()
    try:
        expected = defaultdict(set)
        for mutation_id, subject in accepted.items():
            for client in entitled(subject):
                expected[client].add(mutation_id)
        assert expected[WELFARE] and expected[UNEMPLOYMENT]
        shown = subprocess.run([*CLI, "mailbox", "--client", WELFARE, "--hub", d.url(1), "--data-dir", str(d.data_dir),
                                "--limit", "3"], capture_output=True, text=True, timeout=60, env={**d.env, "COLUMNS": "200"})
        assert shown.returncode == 0, shown.stderr
        assert f"mailbox of {WELFARE}" in shown.stdout and f"{TYPE}.v1" in shown.stdout
        pulled = pull_everything(d, 1)
        wait_for(lambda: expected[UNEMPLOYMENT] <= {e["id"] for e in webhook.events}, timeout=60,
                 what="every pushed mutation at the webhook")
        for client, events in ((WELFARE, pulled), (UNEMPLOYMENT, list(webhook.events))):
            received = {e["id"] for e in events}
            # At least once: every accepted, entitled mutation. Nothing else, except mutations the
            # hub committed but could not answer before it died (their ids are the publishers' own).
            assert expected[client] <= received, client
            unanswered = received - set(accepted)
            assert all(e["id"].startswith("w") for e in events) and len(unanswered) <= 4, unanswered
            assert all(client in entitled(e["subject"]) for e in events), client
            for event in events:  # the same id is always the same mutation, minimised the same way
                assert event["data"]["city"].startswith("City ")
                assert set(event["data"]) == ({"city"} if client == WELFARE else {"city", "street"})
            # In order per person: one worker published one after the other, so its mutations about
            # a person first arrive in the order they were accepted.
            first_seen: dict[tuple[str, str], list[int]] = defaultdict(list)
            for mutation_id in dict.fromkeys(e["id"] for e in events):
                worker, number = mutation_id[1:].split("-")
                subject = accepted.get(mutation_id) or next(e["subject"] for e in events if e["id"] == mutation_id)
                first_seen[(worker, subject)].append(int(number))
            assert all(numbers == sorted(numbers) for numbers in first_seen.values()), client
    finally:
        webhook.stop()
