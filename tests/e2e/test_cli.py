"""The command line: registry load and list, directory import with its error report, migrate."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from crossroads.entrypoints.cli import app

runner = CliRunner()
NR, FUND = "0403170701", "0411905847"
SUBJECT = "85073003328"


def env(tmp_path) -> dict:
    return {
        "CROSSROADS_DATA_DIR": str(tmp_path),
        "CROSSROADS_STORE_URL": f"sqlite:///{tmp_path / 'hub.sqlite3'}",
    }


def test_registry_load_then_directory_import(tmp_path):
    document = {
        "institutions": [
            {"enterprise_number": NR, "name": "Register", "base_url": "http://nr.example"},
            {"enterprise_number": FUND, "name": "Fund"},
        ],
        "capacities": [{"code": "INSURED", "name": "Insured"}],
        "integration_rights": [
            {"institution": FUND, "capacity": "INSURED", "legal_basis": "the fund's licence"}
        ],
        "services": [
            {
                "code": "person.identity",
                "version": "1",
                "name": "Identity",
                "provider": NR,
                "response_fields": ["name"],
            }
        ],
        "authorizations": [
            {
                "reference": "ISC/1",
                "consumer": FUND,
                "service": "person.identity",
                "purpose": "CARE",
                "legal_basis": "law",
                "required_capacities": ["INSURED"],
                "allowed_fields": ["name"],
                "valid_from": "2024-01-01",
            }
        ],
    }
    registry = tmp_path / "registry.json"
    registry.write_text(json.dumps(document))
    # A new hub's data folder: its signing key first (registry load makes none: the hub signs).
    assert runner.invoke(app, ["keys", "init"], env=env(tmp_path)).exit_code == 0
    loaded = runner.invoke(app, ["registry", "load", str(registry)], env=env(tmp_path))
    assert loaded.exit_code == 0, loaded.output
    assert "2 institutions" in loaded.output and "1 authorizations" in loaded.output
    listed = runner.invoke(app, ["registry", "list", "authorizations"], env=env(tmp_path))
    assert "ISC/1" in listed.output

    lines = tmp_path / "file.csv"
    lines.write_text(
        f"subject,institution,capacity,start\n{SUBJECT},{FUND},INSURED,2024-01-01\n"
        f"{SUBJECT[:-1]}9,{FUND},INSURED,2024-01-01\n{SUBJECT},{FUND},INSURED,2024-06-01\n"
    )
    report = tmp_path / "errors.json"
    imported = runner.invoke(
        app, ["directory", "import", str(lines), "--errors", str(report)], env=env(tmp_path)
    )
    assert imported.exit_code == 1  # one line was rejected
    assert "3 lines, 2 applied, 1 rejected" in imported.output
    assert json.loads(report.read_text())["errors"][0]["line"] == 2

    again = runner.invoke(app, ["migrate"], env=env(tmp_path))
    assert again.exit_code == 0 and "the schema is current" in again.output


def test_registry_load_keeps_the_texts_in_other_languages_and_refuses_an_unknown_language(
    tmp_path,
):
    import asyncio

    from crossroads.adapters.sql.store import open_store

    names = {"nl": "Identiteit", "fr": "Identité", "de": "Identität"}
    document = {
        "institutions": [{"enterprise_number": NR, "name": "Register"}],
        "capacities": [
            {"code": "INSURED", "name": "Insured", "name_translations": {"nl": "Verzekerd"}}
        ],
        "integration_rights": [
            {
                "institution": NR,
                "capacity": "INSURED",
                "legal_basis": "Law of 15 January 1990",
                "legal_basis_translations": {"nl": "Wet van 15 januari 1990"},
            }
        ],
        "services": [
            {
                "code": "person.identity",
                "version": "1",
                "name": "Identity",
                "name_translations": names,
                "description": "From the register.",
                "description_translations": {"fr": "Du registre."},
                "provider": NR,
                "response_fields": ["name"],
            }
        ],
    }
    registry = tmp_path / "registry.json"
    registry.write_text(json.dumps(document))
    assert runner.invoke(app, ["keys", "init"], env=env(tmp_path)).exit_code == 0
    loaded = runner.invoke(app, ["registry", "load", str(registry)], env=env(tmp_path))
    assert loaded.exit_code == 0, loaded.output
    listed = runner.invoke(app, ["registry", "list", "services"], env=env(tmp_path))
    assert "Identity" in listed.output and "Identité" not in listed.output  # too wide for a table

    async def read():
        store = await open_store(env(tmp_path)["CROSSROADS_STORE_URL"])
        try:
            return (
                await store.registry.get_service("person.identity", "1"),
                await store.registry.list_capacities(),
                await store.registry.list_integration_rights(),
            )
        finally:
            await store.close()

    service, capacities, rights = asyncio.run(read())
    assert service.name_translations == names
    assert service.description_translations == {"fr": "Du registre."}
    assert capacities[0].name_translations == {"nl": "Verzekerd"}
    assert rights[0].legal_basis_translations == {"nl": "Wet van 15 januari 1990"}
    listed = runner.invoke(app, ["registry", "list", "integration-rights"], env=env(tmp_path))
    assert "Law of 15" in listed.output and "Wet van" not in listed.output

    document["capacities"][0]["name_translations"] = {"es": "Asegurado"}
    registry.write_text(json.dumps(document))
    refused = runner.invoke(app, ["registry", "load", str(registry)], env=env(tmp_path))
    assert refused.exit_code == 1 and "malformed_request" in refused.output
    assert "name_translations" in refused.output


def test_bad_setting_stops_with_the_variable_named(tmp_path):
    result = runner.invoke(app, ["migrate"], env={**env(tmp_path), "CROSSROADS_PORT": "99999"})
    assert result.exit_code != 0
    result = runner.invoke(
        app, ["registry", "list"], env={**env(tmp_path), "CROSSROADS_STORE_URL": "mysql://x"}
    )
    assert result.exit_code == 2 and "store_url" in result.output


def test_audit_verify_passes_then_names_a_tampered_entry(tmp_path):
    import sqlite3

    document = {
        "institutions": [
            {"enterprise_number": NR, "name": "Register"},
            {"enterprise_number": FUND, "name": "Fund"},
        ],
        "capacities": [{"code": "INSURED", "name": "Insured"}],
    }
    registry = tmp_path / "registry.json"
    registry.write_text(json.dumps(document))
    assert runner.invoke(app, ["keys", "init"], env=env(tmp_path)).exit_code == 0
    assert runner.invoke(app, ["registry", "load", str(registry)], env=env(tmp_path)).exit_code == 0
    verified = runner.invoke(app, ["audit", "verify"], env=env(tmp_path))
    assert verified.exit_code == 0, verified.output
    assert "audit log verified: 3 entries" in verified.output
    with sqlite3.connect(tmp_path / "hub.audit.sqlite3") as db:  # the audit file beside the store
        db.execute(
            "UPDATE audit_log SET record = replace(record, 'Fund', 'Fond') WHERE leaf_index = 1"
        )
    tampered = runner.invoke(app, ["audit", "verify"], env=env(tmp_path))
    assert tampered.exit_code == 1
    assert "NOT verified at entry 1 (entry_modified)" in tampered.output


def test_audit_export_writes_a_segment_that_check_segment_verifies_and_prune_keeps_recent_entries(
    tmp_path,
):
    import gzip

    registry = tmp_path / "registry.json"
    registry.write_text(
        json.dumps({"institutions": [{"enterprise_number": NR, "name": "Register"}]})
    )
    assert runner.invoke(app, ["keys", "init"], env=env(tmp_path)).exit_code == 0
    assert runner.invoke(app, ["registry", "load", str(registry)], env=env(tmp_path)).exit_code == 0
    exported = runner.invoke(app, ["audit", "export"], env=env(tmp_path))
    assert exported.exit_code == 0, exported.output
    [segment] = (tmp_path / "audit-archive").glob("audit-*.jsonl.gz")
    assert "exported entries 0–" in exported.output
    assert runner.invoke(app, ["audit", "export"], env=env(tmp_path)).output.startswith(
        "nothing to export"
    )
    checked = runner.invoke(app, ["audit", "check-segment", str(segment)], env=env(tmp_path))
    assert checked.exit_code == 0 and "verified" in checked.output, checked.output
    with gzip.open(segment, "rb") as f:
        lines = f.readlines()
    with gzip.open(segment, "wb") as f:
        f.writelines([lines[0], lines[1].replace(b"Register", b"Registry"), *lines[2:]])
    refused = runner.invoke(app, ["audit", "check-segment", str(segment)], env=env(tmp_path))
    assert refused.exit_code == 1 and "NOT verified" in refused.output
    pruned = runner.invoke(app, ["audit", "prune", "--retention-days", "30"], env=env(tmp_path))
    assert pruned.exit_code == 0 and pruned.output.startswith("nothing to prune"), pruned.output
    unset = runner.invoke(app, ["audit", "prune"], env=env(tmp_path))
    assert unset.exit_code == 2


def test_registry_competent_names_changes_and_ends_a_rights_competent_institution(tmp_path):
    document = {
        "institutions": [{"enterprise_number": FUND, "name": "Fund"}],
        "capacities": [{"code": "HEALTH_INSURED", "name": "Insured"}],
    }
    registry = tmp_path / "registry.json"
    registry.write_text(json.dumps(document))
    assert runner.invoke(app, ["keys", "init"], env=env(tmp_path)).exit_code == 0
    assert runner.invoke(app, ["registry", "load", str(registry)], env=env(tmp_path)).exit_code == 0

    def competent(*argv: str, code: int = 0) -> str:
        done = runner.invoke(
            app, ["registry", "competent", "increased-reimbursement", *argv], env=env(tmp_path)
        )
        assert done.exit_code == code, done.output
        return done.output

    competent("--capacity", "HEALTH_INSURED", "--legal-basis", "art. 37")
    listed = runner.invoke(app, ["registry", "list", "competences"], env=env(tmp_path)).output
    assert "increased-reimbursement" in listed and "HEALTH_INSURED" in listed
    competent("--institution", FUND)
    listed = runner.invoke(app, ["registry", "list", "competences"], env=env(tmp_path)).output
    assert FUND in listed and "HEALTH_INSURED" not in listed
    assert "malformed_request" in competent(
        "--capacity", "HEALTH_INSURED", "--institution", FUND, code=2
    )
    assert "not_found" in competent("--capacity", "UNKNOWN", code=1)
    competent("--remove")
    assert "not_found" in competent("--remove", code=1)
    unknown = runner.invoke(
        app, ["registry", "competent", "no-such-right", "--capacity", "X"], env=env(tmp_path)
    )
    assert unknown.exit_code == 1 and "unknown_right" in unknown.output
    verified = runner.invoke(app, ["audit", "verify"], env=env(tmp_path))
    assert verified.exit_code == 0, verified.output
