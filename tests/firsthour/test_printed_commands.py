"""Every `crossroads` command the demo prints names the demo's folder when the command reads one:
the tour of a running demo, inline commands in its prose (`rights confirm ID …`) included, and
what `--seed-only` prints. Found through the command line itself: a command that has a
`--data-dir` option whose default is not the demo's folder must be given it."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import typer
from typer.testing import CliRunner

from crossroads.demo import country
from crossroads.entrypoints.cli import app
from crossroads.entrypoints.cli.demo.tour import TourPeople, command_prefix, seeded, tour

PREFIX = "crossroads"
ROOT = typer.main.get_command(app)


def printed_commands(text: str, prefix: str = PREFIX) -> list[list[str]]:
    """The `crossroads …` commands in `text`: indented lines, `$(…)` and `…` spans."""
    found = []
    for line in text.splitlines():
        spans = re.findall(r"`([^`]+)`", line) + re.findall(r"\$\(([^)]+)\)", line)
        if line.startswith("  ") and not line.strip().startswith(("TOKEN=", "curl", "-", "Open ")):
            spans.append(line.strip().rstrip("\\"))
        for span in spans:
            words = shlex.split(span)
            while words and "=" in words[0]:  # VARIABLE=value before the command
                words.pop(0)
            start = shlex.split(prefix)
            if words[: len(start)] == start:
                found.append(words[len(start) :])
    return found


def leaf(words: list[str]):
    """The command `words` run (Typer's own click: a group is what has subcommands)."""
    command = ROOT
    for word in words:
        if not hasattr(command, "commands") or word.startswith("-"):
            break
        command = command.commands.get(word, command)
    return command


def missing_folder(text: str, folder: Path, prefix: str = PREFIX) -> list[str]:
    wrong = []
    for words in printed_commands(text, prefix):
        option = next((p for p in leaf(words).params if p.name == "data_dir"), None)
        if option is None or option.default == folder:
            continue
        given = words[words.index("--data-dir") + 1] if "--data-dir" in words else None
        if given != str(folder):
            wrong.append(" ".join(words))
    return wrong


def test_every_command_of_the_tour_names_the_folder_the_demo_was_started_with():
    subjects = country.persons(60)
    for folder in (Path("/tmp/elsewhere/demo"), Path("var/demo")):
        text = tour("http://127.0.0.1:8700", folder, TourPeople.of(subjects), PREFIX)
        assert len(printed_commands(text)) >= 12, text
        assert "rights confirm ID" in text
        assert missing_folder(text, folder) == [], text
    assert missing_folder("  crossroads rights confirm ID --client C", Path("/x")), "no check"


def test_seed_only_says_what_it_did_and_how_to_start_the_hub(tmp_path, monkeypatch):
    folder = tmp_path / "my demo"
    # Started as a user starts it (`.venv/bin/crossroads`), not as the test runner was: the
    # printed commands start the way the demo was started, and are run below as printed.
    monkeypatch.setattr(sys, "argv", [str(Path(sys.executable).parent / "crossroads")])
    result = CliRunner().invoke(
        app, ["demo", "--persons", "20", "--seed-only", "--data-dir", str(folder)]
    )
    assert result.exit_code == 0, result.output
    text, prefix = result.stdout, command_prefix()
    assert "demo hub on" not in text and "no hub runs" in text, text
    assert f"{prefix} demo --persons 20 --port 8000 --data-dir {shlex.quote(str(folder))}" in text
    assert missing_folder(text, folder, prefix) == [], text
    with_store = seeded(folder, PREFIX, f" --data-dir '{folder}'", "postgresql://h/db")
    assert missing_folder(with_store, folder) == [] and "CROSSROADS_STORE_URL=" in with_store
    # The commands that look at what was seeded work as printed.
    looks = [
        line.strip() for line in text.splitlines() if " registry " in line or " audit " in line
    ]
    assert len(looks) == 2, text
    for command in looks:
        answer = subprocess.run(
            ["bash", "-c", command], capture_output=True, text=True, timeout=120
        )
        assert answer.returncode == 0, (command, answer.stdout, answer.stderr)
