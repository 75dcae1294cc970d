"""The README's first command, as a newcomer runs it: `.venv/bin/crossroads demo` in a folder of
their own (here on free ports, with a small country), then every command of the tour it prints,
copied exactly as printed into a shell, every address in it opened, and the demo stopped."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from crossroads.demo.launch import free_port_block
from crossroads.entrypoints.cli.demo.run import WITNESS_OFFSET
from crossroads.entrypoints.cli.demo.tour import END_OF_TOUR

from .processes import Lines, descendants, running, wait_until_ended

PERSONS = 60
README = Path(__file__).resolve().parents[2] / "README.md"


def first_command_of_readme() -> list[str]:
    """The README's first command, without its installation (done: this is its venv)."""
    first = re.findall(r"```sh\n(.+?)\n```", README.read_text())[0]
    return shlex.split(first.split("&&")[-1])


@pytest.fixture
def newcomer(tmp_path):
    """A folder of the newcomer's own, where `.venv` is the virtual environment of the tests."""
    script = Path(sys.prefix) / "bin" / "crossroads"
    assert script.is_file(), (
        f"the tests run from a virtual environment with crossroads installed: {script}"
    )
    (tmp_path / ".venv").symlink_to(sys.prefix)
    return tmp_path


def start_demo(folder: Path, port: int, *more: str) -> subprocess.Popen:
    command = [
        *first_command_of_readme(),
        "--persons",
        str(PERSONS),
        "--port",
        str(port),
        "--provider-port-base",
        str(port),
        *more,
    ]
    assert command[:2] == [".venv/bin/crossroads", "demo"], command
    env = {k: v for k, v in os.environ.items() if k != "CROSSROADS_HUB"}
    # .venv/bin/crossroads is a path relative to the folder: Popen resolves it against cwd.
    return subprocess.Popen(
        command,
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def paragraphs(tour: list[str]) -> list[tuple[str, list[str]]]:
    """(the prose before, the commands) for each group of indented lines of the tour; a line
    ending with a backslash continues on the next."""
    found, prose, commands = [], "", []
    for line in tour:
        if line.startswith("  "):
            if commands and commands[-1].endswith("\\"):
                commands[-1] += "\n" + line.rstrip("\n")
            else:
                commands.append(line.strip())
            continue
        if commands:
            found.append((prose, commands))
            prose, commands = "", []
        prose += line
    return found


def documented_statistics_questions() -> list[str]:
    """docs/statistics.md's `crossroads statistics ask` examples, run as the README runs the
    demo (`.venv/bin/crossroads`)."""
    text = (README.parent / "docs" / "statistics.md").read_text().replace("\\\n", " ")
    found = re.findall(r"^    (crossroads statistics ask .+)$", text, re.M)
    assert len(found) >= 2, found
    return [".venv/bin/" + " ".join(command.split()) for command in found]


def run(folder: Path, script: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", script], cwd=folder, capture_output=True, text=True, timeout=timeout
    )


def follow_mailbox(folder: Path, command: str) -> None:
    """`mailbox --follow` runs until Ctrl-C: read its first messages, then press it."""
    process = subprocess.Popen(
        ["bash", "-c", command],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        lines = Lines(process.stdout).until(lambda line: line[:1].isdigit(), timeout=60)
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(20)
    assert process.returncode == 0, process.stderr.read()
    title, header, *messages = lines
    assert title.startswith("# mailbox of ")
    assert header.rstrip("\n").split("\t") == ["seq", "type", "subject", "effective", "id", "data"]
    for message in messages:  # piped: one line a message, whatever its length, never wrapped
        seq, _kind, subject, _effective, _event_id, data = message.rstrip("\n").split("\t")
        assert seq.isdigit() and len(subject) == 11 and json.loads(data) is not None, message


def test_the_readme_demo_and_every_command_of_its_tour_work_as_printed(newcomer):
    port = free_port_block(10)  # the hub, 7 sources, their witness
    demo = start_demo(newcomer, port)
    errors = Lines(demo.stderr)
    try:
        tour = Lines(demo.stdout).until(lambda line: line.strip() == END_OF_TOUR, timeout=180)
        started = descendants(demo.pid)
        assert started, "the demo runs its authentic sources in a process of their own"
        # The hub answers before the tour is printed, and seeding was shown as it went.
        assert httpx.get(f"http://127.0.0.1:{port}/ready", timeout=10).status_code == 200
        errors.until(lambda line: line.startswith("seeding the reference directory"), timeout=10)

        groups = paragraphs(tour)
        ran = 0
        for prose, commands in groups:
            if commands[0].startswith("Open "):
                continue
            if any(c.startswith("TOKEN=") for c in commands):  # a token, then curl with it
                answer = run(newcomer, "set -e\n" + "\n".join(commands))
                assert answer.returncode == 0, (commands, answer.stdout, answer.stderr)
                status = re.match(r"HTTP/\S+ (\d+)", answer.stdout)
                if status is not None:  # curl -si: the status line, then the headers and body
                    assert status.group(1) in ("200", "201"), answer.stdout
                else:
                    assert "answers" in json.loads(answer.stdout), answer.stdout
                ran += len(commands)
                continue
            for command in commands:
                ran += 1
                if "--follow" in command:
                    follow_mailbox(newcomer, command)
                    continue
                answer = run(newcomer, command)
                if "refusal" in prose:  # the example meant to be refused: its code, exit 1
                    assert answer.returncode == 1 and "subject_not_in_directory" in answer.stdout, (
                        answer
                    )
                else:
                    assert answer.returncode == 0, (command, answer.stdout, answer.stderr)
                    if " registry list " in command:  # an operator's command, on the folder
                        assert answer.stdout.startswith("# services\n"), answer.stdout
                        continue
                    body = json.loads(answer.stdout)
                    if " rights " in command:  # the rights engine's answers (docs/rights.md)
                        assert {"decisions", "rights", "found"} & set(body), body
                    else:
                        assert "request_id" in body, answer.stdout
        assert ran >= 10, groups
        for command in documented_statistics_questions():  # the analyst the demo seeds
            answer = run(newcomer, command)
            assert answer.returncode == 0, (command, answer.stdout, answer.stderr)
            assert json.loads(answer.stdout)["project"] == "EMPLOYMENT_POLICY_2026", answer.stdout

        text = "".join(tour)
        addresses = {
            url.rstrip(").,")
            for line in tour
            if not line.startswith("  ") or "Open " in line
            for url in re.findall(r"http://\S+/\S*", line)
        }
        assert {
            f"http://127.0.0.1:{port}/docs",
            f"http://127.0.0.1:{port}/citizen/",
            f"http://127.0.0.1:{port}/portal/",
            f"http://127.0.0.1:{port}/portal/services",
            f"http://127.0.0.1:{port}/portal/authorizations",
            f"http://127.0.0.1:{port}/portal/mutations",
            f"http://127.0.0.1:{port}/portal/declarations",
            f"http://127.0.0.1:{port}/portal/rights",
            f"http://127.0.0.1:{port}/portal/institution/",
            f"http://127.0.0.1:{port}/operator/",
        } <= addresses, text
        for url in addresses:
            assert httpx.get(url, timeout=10).status_code == 200, url
        secrets = re.search(r"admin API: (\S+)", text).group(1)
        assert (newcomer / secrets).is_file(), secrets
        # The demo's witness countersigns the hub's tree heads (the operator's audit page shows
        # its cosignatures): one, once the hub has signed a head and sent it.
        witness = f"http://127.0.0.1:{port + WITNESS_OFFSET}/witness/v1/tree-heads/latest"
        deadline = time.monotonic() + 60
        while (latest := httpx.get(witness, timeout=5)).status_code != 200:
            assert time.monotonic() < deadline, latest.text
            time.sleep(0.5)
        assert latest.json()["tree_size"] > 0 and latest.json()["cosignature"], latest.text
    finally:
        stop(demo)
    assert demo.returncode == 0, "".join(errors.seen)[-2000:]
    assert not wait_until_ended(started, timeout=10), "the demo left processes running"


def test_a_demo_killed_outright_takes_its_sources_with_it(newcomer):
    port = free_port_block(10)  # the hub, 7 sources, their witness
    demo = start_demo(newcomer, port, "--publish-every", "0")
    try:
        Lines(demo.stdout).until(lambda line: line.strip() == END_OF_TOUR, timeout=180)
        started = descendants(demo.pid)
        assert running(started)
    finally:
        stop(demo, signal.SIGKILL)
    assert not wait_until_ended(started, timeout=10), "the sources' process outlived the demo"


@pytest.mark.parametrize("busy", ["hub", "sources"])
def test_a_port_in_use_stops_the_demo_before_it_seeds(newcomer, busy):
    port = free_port_block(10)  # the hub, 7 sources, their witness
    taken = port if busy == "hub" else port + 3
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", taken))
        listener.listen()
        demo = start_demo(newcomer, port)
        stdout, stderr = demo.communicate(timeout=60)
    assert demo.returncode == 2 and stdout == ""
    assert f"port {taken} is in use" in stderr and stderr.count("\n") == 1, stderr
    assert ("--port PORT" if busy == "hub" else "--provider-port-base PORT") in stderr
    assert not (newcomer / "var").exists(), "nothing is seeded when the demo cannot serve"
