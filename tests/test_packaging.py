"""The deployment files in deploy/ against the code they run: the container image definition,
the dependency lock, the systemd units and the compose file name paths, commands, options and
settings that exist. (No container engine runs here: the image is not built by the tests.)"""

from __future__ import annotations

import http.server
import importlib.metadata
import json
import mmap
import re
import shlex
import shutil
import subprocess
import sys
import threading
import tomllib
from pathlib import Path

import pytest
import typer.main
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from crossroads.config import Settings
from crossroads.config_sources import unknown_variables
from crossroads.demo.launch import free_port_block
from crossroads.entrypoints.cli import app

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
COMMANDS = typer.main.get_command(app).commands  # type: ignore[attr-defined]
sys.path.insert(0, str(DEPLOY))
import lock  # noqa: E402  (deploy/lock.py)


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Containerfile: comments dropped, then continuation lines
    joined as the builder joins them (the backslash and line break removed)."""
    lines = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")]
    text = "\n".join(lines).replace("\\\n", "")
    return [
        (m.group(1).upper(), m.group(2).strip()) for m in re.finditer(r"^(\w+)\s+(.*)$", text, re.M)
    ]


CONTAINERFILE = instructions(DEPLOY / "Containerfile")


def args(kind: str) -> list[str]:
    return [rest for name, rest in CONTAINERFILE if name == kind]


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for each in args("ENV"):
        env |= dict(pair.split("=", 1) for pair in shlex.split(each.replace("\\", " ")))
    return env


def test_the_base_image_is_pinned_by_digest_and_the_build_is_reproducible():
    [default] = [a for a in args("ARG") if a.startswith("PYTHON_IMAGE=")]
    assert re.fullmatch(r"PYTHON_IMAGE=\S+:3\.11-\S+@sha256:[0-9a-f]{64}", default), default
    assert all(a.startswith("${PYTHON_IMAGE}") for a in args("FROM"))
    assert args("ARG").count("SOURCE_DATE_EPOCH") == len(args("FROM"))  # declared in every stage
    build = " ".join(args("RUN"))
    assert (
        "--require-hashes" in build
        and "--no-build-isolation" in build
        and "unchecked-hash" in build
    )


def test_what_the_image_copies_exists_and_what_it_runs_is_a_command_of_the_hub():
    for each in args("COPY"):
        if each.startswith("--from"):
            continue
        *sources, _ = each.split()
        for source in sources:
            assert (ROOT / source).exists(), source
    entrypoint, cmd = json.loads(args("ENTRYPOINT")[0]), json.loads(args("CMD")[0])
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert entrypoint == ["crossroads"] and "crossroads" in scripts
    assert cmd[0] in COMMANDS
    healthcheck = args("HEALTHCHECK")[0]
    assert "/opt/crossroads/healthcheck.py" in healthcheck
    assert "COPY deploy/healthcheck.py /opt/crossroads/healthcheck.py" in [
        f"COPY {a}" for a in args("COPY")
    ]


def test_the_image_runs_unprivileged_with_its_data_folder_a_volume_and_known_settings():
    [user] = args("USER")
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000
    env = image_env()
    assert json.loads(args("VOLUME")[0]) == [env["CROSSROADS_DATA_DIR"]]
    assert env["CROSSROADS_STORE_URL"].startswith(f"sqlite:///{env['CROSSROADS_DATA_DIR']}/")
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"  # a read-only root filesystem: no .pyc written
    assert unknown_variables(env, Settings) == []
    Settings(
        **{
            k.removeprefix("CROSSROADS_").lower(): v
            for k, v in env.items()
            if k.startswith("CROSSROADS_")
        }
    )


class Ready(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/ready" else 404)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.mark.parametrize("status, healthy", [(200, True), (503, False), (None, False)])
def test_the_healthcheck_asks_ready(status, healthy):
    port = free_port_block(1)
    server = None
    if status is not None:
        handler = type("Handler", (Ready,), {"status": status})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        checked = subprocess.run(
            [sys.executable, str(DEPLOY / "healthcheck.py")],
            capture_output=True,
            timeout=30,
            env={"CROSSROADS_PORT": str(port)},
        )
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
    assert (checked.returncode == 0) is healthy, checked.stderr


def test_the_lock_pins_every_run_time_dependency_exactly_with_a_hash():
    text = (DEPLOY / "requirements.lock").read_text()
    pins = lock.locked()
    assert len(pins) == text.count("--hash=sha256:") and pins
    assert re.findall(r"--hash=sha256:([0-9a-f]{64})", text).__len__() == len(pins)
    for line in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in deploy/requirements.lock"
        assert requirement.specifier.contains(pins[name]), (
            name,
            pins[name],
            str(requirement.specifier),
        )
    # And no distribution the hub needs is missing, nor one it does not need there: the lock
    # names the venv's run-time closure. (Versions may move on in a venv installed later;
    # `deploy/lock.py --check` compares them.)
    assert set(lock.closure()) == set(pins), "regenerate: .venv/bin/python deploy/lock.py"


# A message only SQLite's own code holds: a shared object that carries it carries an engine.
_SQLITE_ENGINE = b"database disk image is malformed"


def _carries_sqlite(path: Path) -> bool:
    with path.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return data.find(_SQLITE_ENGINE) >= 0


def test_no_run_time_dependency_brings_a_copy_of_sqlite_of_its_own():
    """The hub's SQLite connections all go through the `sqlite3` module. A second copy of SQLite
    in the process, on the same file, corrupts it (arrow_reads.py tells how ADBC's SQLite driver
    did), so no distribution of the run-time closure may ship one."""
    carriers, scanned = [], 0
    for name in lock.closure():
        for file in importlib.metadata.distribution(name).files or []:
            if re.search(r"\.(so(\.[\d.]+)?|dylib|pyd)$", file.name):
                scanned += 1
                if _carries_sqlite(Path(file.locate())):
                    carriers.append(f"{name}: {file}")
    assert not carriers, carriers
    assert scanned > 20  # pyarrow, duckdb, psycopg's C parts, orjson, …: the walk saw them
    # And the mark is one a SQLite holds: the sqlite3 module's own, linked in or built in.
    import _sqlite3

    module = Path(_sqlite3.__file__)
    linked = subprocess.run(["ldd", str(module)], capture_output=True, text=True).stdout
    library = re.search(r"libsqlite3\S* => (\S+)", linked)
    assert _carries_sqlite(Path(library.group(1)) if library else module)


def unit(path: Path) -> list[tuple[str, str]]:
    """(key, value) of a unit file's assignments, continuation lines joined as systemd does."""
    text = path.read_text().replace("\\\n", " ")
    return [
        tuple(line.split("=", 1))  # type: ignore[misc]
        for line in text.splitlines()
        if "=" in line and not line.startswith("#")
    ]


@pytest.mark.parametrize("name", ["crossroads.service", "crossroads-witness.service"])
def test_the_systemd_units_verify_and_run_commands_that_exist(name, tmp_path):
    path = DEPLOY / "systemd" / name
    entries = unit(path)
    keys = dict(entries)
    for hardening in (
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "CapabilityBoundingSet=",
        "SystemCallFilter=@system-service",
        "RestrictNamespaces=yes",
    ):
        assert hardening in path.read_text().splitlines(), hardening
    assert keys["Restart"] == "on-failure" and keys["User"] != "root" and "StateDirectory" in keys
    command = shlex.split(keys["ExecStart"])
    assert command[0] == "/opt/crossroads/bin/crossroads" and command[1] in COMMANDS
    options = {opt for param in COMMANDS[command[1]].params for opt in param.opts}
    assert {word for word in command[2:] if word.startswith("--")} <= options
    environment = dict(value.split("=", 1) for key, value in entries if key == "Environment")
    assert unknown_variables(environment, Settings) == []
    credentials = {value.split(":", 1)[0] for key, value in entries if key == "LoadCredential"}
    assert {
        v.removeprefix("%d/") for v in environment.values() if v.startswith("%d/")
    } == credentials
    # systemd's own check, with the paths of this machine (the binary, existing credential files).
    local = path.read_text().replace(
        "/opt/crossroads/bin/crossroads", str(Path(sys.executable).parent / "crossroads")
    )
    local = re.sub(
        r"^LoadCredential=(\w+):.*$", r"LoadCredential=\1:/etc/hostname", local, flags=re.M
    )
    local = re.sub(
        r"^EnvironmentFile=.*$",
        f"EnvironmentFile={DEPLOY / 'crossroads.env.example'}",
        local,
        flags=re.M,
    )
    (tmp_path / name).write_text(local)
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is needed (Debian's systemd package; .ci/run installs it)"
    verified = subprocess.run(
        [analyze, "verify", str(tmp_path / name)], capture_output=True, text=True, timeout=60
    )
    assert verified.returncode == 0 and verified.stderr.strip() == "", verified.stderr


def test_the_example_environment_file_names_only_settings_that_exist():
    lines = [
        line
        for line in (DEPLOY / "crossroads.env.example").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    env = dict(line.split("=", 1) for line in lines)
    assert unknown_variables(env, Settings) == []


def test_the_compose_file_runs_the_hub_with_postgresql_and_jetstream():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    hub, nats = services["hub"], services["nats"]
    assert (ROOT / hub["build"]["dockerfile"]).exists() and hub["build"]["context"] == ".."
    assert set(hub["depends_on"]) == {"postgres", "nats"}
    assert "--jetstream" in nats["command"]
    env = hub["environment"]
    assert unknown_variables(env, Settings) == []
    assert env["CROSSROADS_MUTATION_BACKEND"] == "nats" and env["CROSSROADS_NATS_URL"].startswith(
        "nats://nats:"
    )
    for name, value in env.items():
        if name.endswith("_FILE"):
            secret = value.removeprefix("/run/secrets/")
            assert secret in hub["secrets"] and secret in compose["secrets"], name
    volume = json.loads(args("VOLUME")[0])[0]
    assert any(v.endswith(f":{volume}") for v in hub["volumes"])
    assert (
        hub["read_only"] is True
        and hub["cap_drop"] == ["ALL"]
        and hub["restart"] == "unless-stopped"
    )
    made = (DEPLOY / "make-secrets.sh").read_text()
    for secret in compose["secrets"]:
        assert f"secret {secret} " in made, secret


def test_the_portals_templates_catalogues_and_style_sheet_are_package_data():
    """A wheel carries only what pyproject's package-data names: every template, catalogue and
    style sheet must match one of its patterns, or an installed hub serves no portal."""
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["crossroads"]
    package = ROOT / "src" / "crossroads"
    files = [  # every file of the package that is not code: templates, catalogues, styles,
        # migrations, reference files, rule parameters, and whatever is added next
        path.relative_to(package)
        for path in package.rglob("*")
        if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts
    ]
    assert len(files) > 10
    unshipped = [str(f) for f in files if not any(f.match(p) for p in patterns)]
    assert unshipped == []
