"""The provider kit is installable on its own: an institution that runs a service behind the hub
takes the kit and Starlette and joserfc, not the hub's store, web framework or message queue.

Built here as an institution would (`pip wheel ./providerkit`), unpacked, and imported alone in
a fresh interpreter that then inspects `sys.modules`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What the hub needs and a provider must not be made to install or import.
HUB_ONLY = (
    "crossroads.adapters",
    "crossroads.services",
    "crossroads.entrypoints",
    "crossroads.demo",
    "crossroads.bootstrap",
    "crossroads.config",
    "fastapi",
    "sqlalchemy",
    "psycopg",
    "psycopg_pool",
    "aiohttp",
    "nats",
    "lxml",
    "pydantic",
    "typer",
    "uvicorn",
    "jinja2",
    "authlib",
    "stdnum",
)

PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1]) if len(sys.argv) > 1 else None
import crossroads.providerkit
from crossroads.providerkit import HubKeySet, ProviderApp
app = ProviderApp("https://register.example", HubKeySet({"keys": [{"kty": "OKP", "crv": "Ed25519",
    "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}))
modules = sorted(sys.modules)
try:
    import crossroads.adapters
    hub_reachable = True
except ModuleNotFoundError:
    hub_reachable = False
print(json.dumps({"modules": modules, "kit": crossroads.providerkit.__file__,
                  "hub_reachable": hub_reachable}))
"""


def _probe(*args: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def _loaded(modules: list[str], names: tuple[str, ...]) -> list[str]:
    return [m for m in modules if any(m == n or m.startswith(n + ".") for n in names)]


def test_importing_the_provider_kit_imports_nothing_of_the_hub():
    found = _probe()
    # Importing it within the hub's own installation, too, loads none of the hub's layers.
    assert _loaded(found["modules"], HUB_ONLY) == []
    assert "crossroads.providerkit" in found["modules"]


def test_the_provider_kit_builds_as_its_own_distribution_and_runs_alone(tmp_path):
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            str(ROOT / "providerkit"),
            "-w",
            str(tmp_path / "wheel"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (tmp_path / "wheel").glob("crossroads_providerkit-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith("/METADATA"))).decode()
        archive.extractall(tmp_path / "site")
    modules = sorted(n for n in names if n.endswith(".py"))
    assert modules == [
        "crossroads/__init__.py",
        "crossroads/domain/__init__.py",
        "crossroads/domain/errors.py",
        "crossroads/domain/unique_keys.py",
        "crossroads/providerkit/__init__.py",
        "crossroads/providerkit/hub_keys.py",
        "crossroads/providerkit/signatures.py",
    ]
    requires = sorted(
        line.split(":", 1)[1].strip().split(">")[0]
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:")
    )
    assert requires == ["joserfc", "starlette"]

    found = _probe(str(tmp_path / "site"))
    assert found["kit"].startswith(str(tmp_path / "site"))  # the unpacked kit, not the hub's copy
    assert not found["hub_reachable"]  # the kit runs without the hub's modules beside it
    assert _loaded(found["modules"], HUB_ONLY) == []
