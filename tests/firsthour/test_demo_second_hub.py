"""`crossroads demo --second-hub`, as a newcomer runs it: a federated second hub beside the demo's,
and the tour's part that shows one exchange and one mutation across the two (docs/federation.md),
then every process stopped with the demo."""

from __future__ import annotations

import json

import httpx

from crossroads.demo.federation import PEER_NUMBER
from crossroads.demo.launch import free_port_block

from .processes import Lines, descendants, wait_until_ended
from .test_demo_tour import newcomer as newcomer  # a fixture, shared
from .test_demo_tour import start_demo, stop


def test_the_demo_with_a_second_hub_shows_an_exchange_and_a_mutation_across(newcomer):
    port = free_port_block(200)  # the second hub listens on + 50, its sources from + 150
    demo = start_demo(newcomer, port, "--second-hub")
    try:
        lines = Lines(demo.stdout).until(
            lambda line: line.strip().startswith('{"street"'), timeout=300
        )
        text = "".join(lines)
        assert "Two federated hubs: this one is instance A" in text
        answer = json.loads(
            next(line for line in lines if line.strip().startswith('{"provider"')).strip()
        )
        assert answer["provider"] == PEER_NUMBER and answer["data"]["name"]
        assert "in the audit logs of both hubs" in text
        assert json.loads(lines[-1].strip())["city"] == "Antwerpen"
        second = f"http://127.0.0.1:{port + 50}"
        document = httpx.get(f"{second}/.well-known/crossroads/federation", timeout=10)
        assert document.status_code == 200 and document.text.count(".") == 2  # a compact JWS
        started = descendants(demo.pid)
    finally:
        stop(demo)
    assert not wait_until_ended(started, 30), "the second hub's processes outlived the demo"
