"""The hub's signing key rotated while everything keeps running (docs/operations.md): two hub
processes, the demo's providers (the provider kit, started with the old JWKS), a webhook receiver
built with the provider kit and a witness pinned to the old key. The next key is published,
activated and the old one retired with `crossroads keys`, none of them restarted: no exchange
fails, no push is refused, no head is refused; then `audit verify` and `check-segment` pass on
the heads and the segment signed before the rotation, by the key now retired."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from datetime import date

import httpx
import uvicorn

from crossroads.demo.launch import free_port_block, wait_ready
from crossroads.key_history import signing_kid
from crossroads.providerkit import HubKeySet, ProviderApp

from .processes import CLI, Deployment, wait_for
from .test_mutation_processes import PUBLISHER, PUSH_SETTINGS, TYPE, UNEMPLOYMENT, entitled
from .test_mutation_processes import set_up as subscribe
from .test_mutation_processes import token as token_of


class Receiver:
    """An institution's webhook written with the provider kit, in this process: it records the
    events, the key each push was signed with, and every push it refused."""

    def __init__(self, hub_jwks: dict, jwks_url: str) -> None:
        self.port = free_port_block(1)
        self.events: list[dict] = []
        self.kids: list[str | None] = []
        self.refused: list[str] = []

        async def refusing(request, refusal):
            self.refused.append(f"{refusal.code}: {refusal.message}")
            return refusal

        kit = ProviderApp(
            f"http://127.0.0.1:{self.port}", HubKeySet(hub_jwks, url=jwks_url), on_refusal=refusing
        )

        @kit.mutations("/events")
        async def received(events: list) -> None:
            self.events.extend(events)

        async def app(scope, receive, send):
            if scope["type"] == "http":
                headers = dict(scope["headers"])
                self.kids.append(signing_kid(headers.get(b"x-crossroads-signature", b"").decode()))
            await kit(scope, receive, send)

        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        wait_for(lambda: self.server.started, what="the webhook receiver")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def keys_command(d: Deployment, *argv: str) -> str:
    done = subprocess.run(
        [*CLI, "keys", *argv], env=d.env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def test_the_hub_key_rotates_without_a_failed_exchange_push_or_head(tmp_path):
    d = Deployment(tmp_path, f"sqlite:///{tmp_path / 'hub' / 'crossroads.sqlite3'}")
    pinned = d.data_dir / "hub-jwks.json"  # what everyone was given: the first key only
    (old_kid,) = [k["kid"] for k in json.loads(pinned.read_text())["keys"]]
    # A segment of the log as it was before the rotation, signed by the key to be retired.
    exports = tmp_path / "exports"
    exported = subprocess.run(
        [*CLI, "audit", "export", "--to", str(exports)], env=d.env, capture_output=True, text=True
    )
    assert exported.returncode == 0, exported.stderr
    (segment,) = exports.glob("*.jsonl.gz")

    receiver = Receiver(json.loads(pinned.read_text()), f"{d.issuer}/.well-known/jwks.json")
    receiver.start()
    port = free_port_block(1)
    witness = subprocess.Popen(
        [
            *CLI,
            "witness",
            *("--hub-jwks", str(pinned), "--hub-url", d.issuer),
            *("--data", str(tmp_path / "witness"), "--port", str(port)),
        ],
        stdout=subprocess.DEVNULL,
    )
    stop = threading.Event()
    exchanges: list[int] = []
    accepted: dict[str, str] = {}
    try:
        wait_ready(f"http://127.0.0.1:{port}/witness/.well-known/jwks.json", witness, 120)
        d.env.update(PUSH_SETTINGS)
        d.env["CROSSROADS_KEYS_RELOAD_SECONDS"] = "0.2"
        d.env["CROSSROADS_WITNESS_URLS"] = json.dumps([f"http://127.0.0.1:{port}"])
        d.start(0)
        d.start(1)
        subscribe(d, 0, receiver)
        latest = f"http://127.0.0.1:{port}/witness/v1/tree-heads/latest"
        wait_for(lambda: httpx.get(latest).status_code == 200, what="a countersigned head")

        def exchange(n: int) -> None:
            with httpx.Client(timeout=10) as http:
                for i in range(100_000):
                    if stop.is_set():
                        return
                    token = d.token(i % 2)  # a new token each time: signed by the current key
                    subject = d.subjects[(n * 31 + i) % len(d.subjects)]
                    answer = http.post(
                        f"{d.url(i % 2)}/v1/exchange/person.identity",
                        headers={"Authorization": f"Bearer {token}"},
                        json={"subject": subject, "purpose": "SOCIAL_INTEGRATION"},
                    )
                    exchanges.append(answer.status_code)

        def publish() -> None:
            with httpx.Client(timeout=10) as http:
                for i in range(100_000):
                    if stop.is_set():
                        return
                    subject = d.subjects[i % len(d.subjects)]
                    answer = http.post(
                        f"{d.url(i % 2)}/v1/mutations/{TYPE}",
                        headers={"Authorization": f"Bearer {token_of(d, i % 2, PUBLISHER)}"},
                        json={
                            "id": f"m-{i}",
                            "subject": subject,
                            "effective_date": date.today().isoformat(),
                            "payload": {"city": f"City {i}", "street": "Rue Haute"},
                        },
                    )
                    assert answer.status_code in (200, 201), answer.text
                    accepted[f"m-{i}"] = subject

        traffic = [threading.Thread(target=exchange, args=(n,)) for n in range(2)]
        traffic.append(threading.Thread(target=publish))
        for thread in traffic:
            thread.start()
        wait_for(lambda: len(exchanges) >= 20 and len(accepted) >= 10, what="traffic")

        keys_command(d, "rotate")  # published in each process's JWKS before it signs
        for n in (0, 1):
            wait_for(lambda n=n: len(d.jwks(n)["keys"]) == 2, what="the next key published")
        new_kid = next(k["kid"] for k in d.jwks(0)["keys"] if k["kid"] != old_kid)
        assert signing_kid(d.head(0)["signature"]) == old_kid  # not signing yet

        keys_command(d, "activate")
        wait_for(
            lambda: signing_kid(httpx.get(latest).json()["signature"]) == new_kid,
            timeout=30,
            what="the witness countersigning a head signed by the new key",
        )
        wait_for(lambda: new_kid in receiver.kids, timeout=30, what="a push signed by it")
        settled = len(exchanges)
        wait_for(lambda: len(exchanges) >= settled + 20, what="exchanges after the activation")
        time.sleep(1)  # every process has read the folder: tokens by the old key are gone
        keys_command(d, "retire")
        settled = len(exchanges)
        wait_for(lambda: len(exchanges) >= settled + 20, what="exchanges after the retirement")
        stop.set()
        for thread in traffic:
            thread.join(30)

        assert exchanges and set(exchanges) == {200}, sorted(set(exchanges))
        expected = {m for m, s in accepted.items() if UNEMPLOYMENT in entitled(s)}
        assert expected
        wait_for(
            lambda: expected <= {e["id"] for e in receiver.events},
            timeout=60,
            what="every push delivered",
        )
        assert receiver.refused == []
        assert {old_kid, new_kid} <= set(receiver.kids)
        for n in (0, 1):
            metrics = httpx.get(f"{d.url(n)}/metrics", timeout=5).text
            assert "crossroads_tree_head_publish_failures_total 0.0" in metrics
        published = {k["kid"]: k for k in d.jwks(0)["keys"]}
        assert set(published) == {old_kid, new_kid}  # the retired key stays published
        history = httpx.get(f"{d.issuer}/.well-known/crossroads/key-history").json()["keys"]
        assert [(k["kid"], k["state"]) for k in history] == [
            (old_kid, "retired"),
            (new_kid, "current"),
        ]
    finally:
        stop.set()
        witness.send_signal(signal.SIGTERM)
        witness.wait(20)
        receiver.stop()
        d.stop_all()

    verified = d.verify_log()
    assert verified.returncode == 0 and "audit log verified" in verified.stdout, verified.stdout
    checked = subprocess.run(
        [*CLI, "audit", "check-segment", str(segment)], env=d.env, capture_output=True, text=True
    )
    assert checked.returncode == 0 and "verified" in checked.stdout, checked.stderr
    assert not list((d.data_dir / "keys").glob(".*"))  # only whole files were ever left
