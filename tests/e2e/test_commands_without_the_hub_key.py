"""Only the hub that signs makes a signing key: every other command run beside a hub's store but
without its data folder (a wrong or missing CROSSROADS_DATA_DIR) refuses, in one line, and
neither makes a key nor signs a tree head with one; the real hub's log still verifies after."""

from __future__ import annotations

import asyncio
import json

from typer.testing import CliRunner

from crossroads.adapters.sql.store import open_store
from crossroads.entrypoints.cli import app

runner = CliRunner()
NR = "0403170701"
NEEDS_THE_KEY = [
    ["registry", "load", "REGISTRY"],
    ["registry", "grant", NR, "INSURED"],
    ["registry", "revoke", NR, "INSURED"],
    ["registry", "provider", "person.identity", NR],
    ["directory", "import", "LINES"],
    ["audit", "verify"],
    ["audit", "export", "--to", "EXPORTS"],
    ["audit", "prune", "--retention-days", "30", "--archive", "EXPORTS"],
    ["audit", "check-segment", "SEGMENT"],
]
# Commands that read without the key, or only touch the schema: they run, and make nothing.
WITHOUT_THE_KEY = [["registry", "list"], ["migrate", "--status"], ["migrate"]]


def heads(store_url: str) -> int:
    async def count() -> int:
        store = await open_store(store_url, run_migrations=False)
        try:
            return len(await store.transparency.heads())
        finally:
            await store.close()

    return asyncio.run(count())


def test_no_command_but_the_signing_hubs_makes_a_key_or_signs_a_head(tmp_path, store_url):
    hub = {"CROSSROADS_DATA_DIR": str(tmp_path / "hub"), "CROSSROADS_STORE_URL": store_url}
    files = {
        "REGISTRY": tmp_path / "registry.json",
        "LINES": tmp_path / "lines.csv",
        "EXPORTS": tmp_path / "exports",
    }
    files["REGISTRY"].write_text(
        json.dumps({"institutions": [{"enterprise_number": NR, "name": "Register"}]})
    )
    files["LINES"].write_text("subject,institution,capacity,start\n")
    for argv in (
        ["keys", "init"],
        ["migrate"],
        ["registry", "load", str(files["REGISTRY"])],
        ["audit", "verify"],  # the real hub sequences what PostgreSQL appended, and signs
    ):
        done = runner.invoke(app, argv, env=hub)
        assert done.exit_code == 0, done.output
    exported = runner.invoke(app, ["audit", "export", "--to", str(files["EXPORTS"])], env=hub)
    assert exported.exit_code == 0, exported.output
    (files["SEGMENT"],) = files["EXPORTS"].glob("*.jsonl.gz")
    signed = heads(store_url)
    keys_before = sorted(p.name for p in (tmp_path / "hub" / "keys").iterdir())

    wrong = {**hub, "CROSSROADS_DATA_DIR": str(tmp_path / "missing")}
    for argv in NEEDS_THE_KEY:
        argv = [str(files[a]) if a in files else a for a in argv]
        refused = runner.invoke(app, argv, env=wrong)
        assert refused.exit_code == 2, (argv, refused.output)
        said = " ".join(refused.output.split())
        assert "no hub signing key in" in said or "no hub keys in" in said, (argv, said)
        assert not (tmp_path / "missing").exists(), argv
        assert heads(store_url) == signed, argv
    for argv in WITHOUT_THE_KEY:
        done = runner.invoke(app, argv, env=wrong)
        assert done.exit_code == 0, (argv, done.output)
        assert not (tmp_path / "missing" / "keys").exists(), argv
        assert heads(store_url) == signed, argv

    assert sorted(p.name for p in (tmp_path / "hub" / "keys").iterdir()) == keys_before
    verified = runner.invoke(app, ["audit", "verify"], env=hub)
    assert verified.exit_code == 0 and "audit log verified" in verified.output, verified.output
