"""What the command line answers a newcomer who gets something wrong: no hub running, a kind or
a benchmark that does not exist, a store that is not there. One line each, naming what to
change, a non-zero exit, no traceback, and nothing created on the way."""

from __future__ import annotations

import json
import re
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from crossroads.demo.launch import free_port_block
from crossroads.entrypoints.cli import app
from crossroads.entrypoints.cli.bench_command import BENCHMARKS
from crossroads.entrypoints.cli.demo.tour import command_prefix

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
CLIENT = "0200000736:case-app"


@pytest.fixture
def key(tmp_path) -> Path:
    path = tmp_path / "app.jwk.json"
    assert runner.invoke(app, ["keys", "generate", "--private", str(path)]).exit_code == 0
    return path


def one_line_failure(result, code: int = 1) -> str:
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    assert result.output.count("\n") == 1, f"one line, never wrapped: {result.output!r}"
    return result.output


CLIENT_COMMANDS = {
    "ask": [
        "ask",
        "person.identity",
        "79122244457",
        "--purpose",
        "SOCIAL_INTEGRATION",
        "--client",
        CLIENT,
    ],
    "token": ["token", "--client", CLIENT],
    "mailbox": ["mailbox", "--client", CLIENT],
    "declare": ["declare", "dimona", "FILE", "--client", CLIENT],
}


@pytest.mark.parametrize("command", CLIENT_COMMANDS)
def test_a_client_command_with_no_hub_running_names_the_address_and_the_flag(
    tmp_path, key, command
):
    nowhere = f"http://127.0.0.1:{free_port_block(1)}"
    (tmp_path / "in.json").write_text("{}")
    argv = [str(tmp_path / "in.json") if a == "FILE" else a for a in CLIENT_COMMANDS[command]]
    said = one_line_failure(runner.invoke(app, [*argv, "--key", str(key), "--hub", nowhere]))
    assert (
        f"cannot reach the hub at {nowhere} (from --hub or CROSSROADS_HUB)" in said
        and "--hub URL" in said
    )


def test_the_client_commands_find_the_hub_the_demo_recorded_in_its_folder(tmp_path, key):
    recorded = f"http://127.0.0.1:{free_port_block(1)}"
    (tmp_path / "hub.json").write_text(json.dumps({"url": recorded}))
    said = one_line_failure(
        runner.invoke(
            app,
            [*CLIENT_COMMANDS["ask"], "--key", str(key), "--data-dir", str(tmp_path)],
            env={"CROSSROADS_HUB": None},
        )
    )
    assert (
        f"cannot reach the hub at {recorded} "
        f"(recorded by `crossroads demo` in {tmp_path / 'hub.json'})" in said
    )
    elsewhere = f"http://127.0.0.1:{free_port_block(1)}"
    said = one_line_failure(
        runner.invoke(
            app,
            [*CLIENT_COMMANDS["token"], "--key", str(key), "--data-dir", str(tmp_path)],
            env={"CROSSROADS_HUB": elsewhere},
        )
    )
    assert f"at {elsewhere} (from --hub or CROSSROADS_HUB)" in said


def test_declare_names_the_kinds_there_are_before_sending_anything(tmp_path, key):
    (tmp_path / "in.json").write_text("{}")
    nowhere = f"http://127.0.0.1:{free_port_block(1)}"  # never asked: the kind is checked first
    said = one_line_failure(
        runner.invoke(
            app,
            [
                "declare",
                "dimonaa",
                str(tmp_path / "in.json"),
                "--client",
                CLIENT,
                "--key",
                str(key),
                "--hub",
                nowhere,
            ],
        ),
        2,
    )
    assert (
        "unknown declaration kind 'dimonaa' (did you mean dimona?), "
        "try one of: dimona, dmfa, social-risk/" in said
    )
    said = one_line_failure(
        runner.invoke(
            app,
            [
                "declare",
                "social-risk/incapacity.work",
                str(tmp_path / "in.json"),
                "--batch",
                "--client",
                CLIENT,
                "--key",
                str(key),
                "--hub",
                nowhere,
            ],
        ),
        2,
    )
    assert "unknown batch file kind" in said and "try one of: dimona, dmfa" in said


def test_bench_help_lists_every_benchmark_in_the_bench_folder():
    named = {
        m
        for path in (ROOT / "bench").glob("*.py")
        for m in re.findall(r"^\s+crossroads bench (\w+)", path.read_text(), re.MULTILINE)
    }
    assert named == set(BENCHMARKS), "bench/ and the bench command's catalogue differ"
    shown = runner.invoke(app, ["bench", "--help"], terminal_width=200)
    assert shown.exit_code == 0
    for name in BENCHMARKS:
        assert re.search(rf"\b{name}: ", shown.output), (name, shown.output)
    assert "unknown benchmark 'exchang', try one of: audit, " in one_line_failure(
        runner.invoke(app, ["bench", "exchang"]), 2
    )


READING_COMMANDS = [
    ["registry", "list"],
    ["registry", "grant", "0200000736", "SOCIAL_ASSISTANCE"],
    ["registry", "revoke", "0200000736", "SOCIAL_ASSISTANCE"],
    ["registry", "provider", "health.affiliation", "0200000439"],
    ["directory", "import", "FILE"],
    ["audit", "verify"],
    ["audit", "export"],
    ["audit", "prune", "--retention-days", "30"],
    ["audit", "restore-check"],
    ["operators", "list"],
    ["statistics", "extract"],
]


def has_schema(url: str) -> bool:
    if url.startswith("sqlite:"):
        return Path(url.removeprefix("sqlite:///")).exists()
    with psycopg.connect(url) as connection:
        return (
            connection.execute("SELECT to_regclass('schema_migrations')").fetchone()[0] is not None
        )


@pytest.mark.parametrize("argv", READING_COMMANDS, ids=lambda argv: " ".join(argv[:2]))
def test_a_command_that_reads_a_store_says_when_there_is_none_and_creates_nothing(
    tmp_path, store_url, argv
):
    if store_url.startswith("sqlite:"):
        store_url = f"sqlite:///{tmp_path / 'nowhere' / 'crossroads.sqlite3'}"
    (tmp_path / "lines.csv").write_text("subject,institution,capacity,start\n")
    env = {"CROSSROADS_STORE_URL": store_url, "CROSSROADS_DATA_DIR": str(tmp_path / "data")}
    argv = [str(tmp_path / "lines.csv") if a == "FILE" else a for a in argv]
    said = one_line_failure(runner.invoke(app, argv, env=env), 2)
    assert (
        ("no store at" in said or "holds no Crossroads store" in said)
        and "crossroads migrate" in said
        and "--data-dir DIR" in said
    )
    assert (
        not has_schema(store_url)
        and not (tmp_path / "data").exists()
        and not (tmp_path / "nowhere").exists()
    )
    assert (
        runner.invoke(app, ["migrate"], env=env).exit_code == 0
    )  # the command meant to create one
    assert has_schema(store_url)
    listed = runner.invoke(app, ["registry", "list"], env=env)
    assert listed.exit_code == 0, listed.output


def test_data_dir_names_a_hubs_folder_and_the_store_in_it(tmp_path, monkeypatch):
    """As `crossroads demo --data-dir DIR` lays a folder out: DIR/crossroads.sqlite3 and keys."""
    monkeypatch.delenv("CROSSROADS_STORE_URL", raising=False)
    monkeypatch.delenv("CROSSROADS_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "hub"
    said = one_line_failure(runner.invoke(app, ["registry", "list", "--data-dir", str(folder)]), 2)
    assert f"no store at {folder / 'crossroads.sqlite3'} (the store of --data-dir" in said
    assert runner.invoke(app, ["migrate", "--data-dir", str(folder)]).exit_code == 0
    assert (folder / "crossroads.sqlite3").is_file() and not (tmp_path / "var").exists()
    listed = runner.invoke(app, ["registry", "list", "--data-dir", str(folder)])
    assert listed.exit_code == 0, listed.output
    assert runner.invoke(app, ["keys", "init", "--data-dir", str(folder)]).exit_code == 0
    assert (folder / "keys").is_dir()
    shown = runner.invoke(app, ["federation", "show", "--data-dir", str(folder)])
    assert shown.exit_code == 0 and '"instance": null' in shown.stdout
    assert "CROSSROADS_FEDERATION_INSTANCE is unset" in shown.stderr
    (folder / "hub.json").write_text(json.dumps({"url": "http://h", "federation_instance": "A"}))
    shown = runner.invoke(app, ["federation", "show", "--data-dir", str(folder)])
    assert '"instance": "A"' in shown.stdout, shown.stdout


def test_the_tour_prints_the_command_as_the_demo_was_started(tmp_path, monkeypatch):
    script = tmp_path / "bin" / "crossroads"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert (
        command_prefix("bin/crossroads") == "bin/crossroads"
    )  # as the README runs .venv/bin/crossroads
    monkeypatch.setenv("PATH", f"{script.parent}:/usr/bin:/bin")
    assert (
        command_prefix(str(script)) == "crossroads"
    )  # on the PATH (an activated venv): the bare name
    assert command_prefix("/src/crossroads/entrypoints/cli/__main__.py").endswith(
        " -m crossroads.entrypoints.cli"
    )
