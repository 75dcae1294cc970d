"""`crossroads demo --second-hub`, as a newcomer runs it: a federated second hub beside the demo's,
and the tour's part that shows one exchange and one mutation across the two under an identifier
link (docs/federation.md), whose every command works as printed; then every process stopped with
the demo."""

from __future__ import annotations

import json
import re

import httpx

from crossroads.demo.federation import PEER_NUMBER
from crossroads.demo.launch import free_port_block
from crossroads.entrypoints.cli.demo.second_hub import END_OF_FEDERATION

from .processes import Lines, descendants, wait_until_ended
from .test_demo_tour import newcomer as newcomer  # a fixture, shared
from .test_demo_tour import paragraphs, run, start_demo, stop


def test_the_demo_with_a_second_hub_shows_an_exchange_and_a_mutation_across(newcomer):
    port = free_port_block(200)  # the second hub listens on + 50, its sources from + 150
    demo = start_demo(newcomer, port, "--second-hub")
    try:
        lines = Lines(demo.stdout).until(
            lambda line: line.strip() == END_OF_FEDERATION, timeout=300
        )
        part = lines[
            next(i for i, line in enumerate(lines) if line.startswith("Two federated hubs")) :
        ]
        text = "".join(part)
        assert "this one is instance A" in text
        mine, theirs = re.search(r"linked (\d{11}) to B's (\d{11})", text).groups()
        answer = json.loads(
            next(line for line in part if line.strip().startswith('{"provider"')).strip()
        )
        assert answer["provider"] == PEER_NUMBER and answer["data"]["name"]
        assert "in the audit logs of both hubs" in text
        moved = json.loads(next(line for line in part if '"city"' in line).strip())
        assert moved["city"] == "Tartu" and moved["subject"] == mine  # B sent it about theirs

        groups = paragraphs(part)
        assert len(groups) >= 5, groups
        ran = 0
        for _prose, commands in groups[2:]:  # past the two results shown
            answer = run(newcomer, "set -e\n" + "\n".join(commands))
            assert answer.returncode == 0, (commands, answer.stdout, answer.stderr)
            status = re.match(r"HTTP/\S+ (\d+)", answer.stdout)
            if status is not None:  # curl -si: a link recorded, a mutation published
                assert status.group(1) == "201", answer.stdout
            else:
                body = json.loads(answer.stdout)
                assert body["answers"], body
                if "/v1/identifiers/B" in commands[-1]:
                    assert body["answers"][0]["data"]["identifier"] == theirs
            ran += 1
        assert ran == 4
        second = f"http://127.0.0.1:{port + 50}"
        document = httpx.get(f"{second}/.well-known/crossroads/federation", timeout=10)
        assert document.status_code == 200 and document.text.count(".") == 2  # a compact JWS
        started = descendants(demo.pid)
    finally:
        stop(demo)
    assert not wait_until_ended(started, 30), "the second hub's processes outlived the demo"
