"""The documented backup and restore procedure (docs/operations.md, "Backup and restore") with
real processes: a hub, a witness, a backup taken while the hub runs, more exchanges witnessed,
the backup restored, then `crossroads audit restore-check` and `restore-recover`. The witness and
`crossroads audit verify` agree with what the procedure says, and the restarted hub is witnessed
again without a split view.

SQLite: `crossroads backup`, then recovery from the audit archive. PostgreSQL: pg_dump and
pg_restore, then a restore declaration (no archive).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess

import httpx
import psycopg

from crossroads.adapters.sql.audit_file import audit_path
from crossroads.demo.launch import free_port_block, wait_ready

from ..conftest import POSTGRES_DSN
from .processes import CLI, wait_for


def run(deployment, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, *args], env=deployment.env, capture_output=True, text=True, timeout=120
    )


def exchanges(deployment, subjects: list[str]) -> None:
    token = deployment.token(0)
    for subject in subjects:
        answer = httpx.post(
            f"{deployment.url(0)}/v1/exchange/person.identity",
            timeout=10,
            headers={"Authorization": f"Bearer {token}"},
            json={"subject": subject, "purpose": "SOCIAL_INTEGRATION"},
        )
        assert answer.status_code == 200, answer.text


def witnessed_all(deployment, latest: str, at_least: int = 1) -> int:
    """Wait until the hub signed a head of at least `at_least` entries (the exchanges just
    answered are audited, but their head is signed a moment later) and the witness countersigned
    the hub's latest head; return its size."""

    def caught_up():
        # Before its first signed head the hub answers 404 not_found: not caught up yet.
        size = deployment.head(0).get("tree_size", 0)
        if size < at_least:
            return False
        answer = httpx.get(latest)
        return answer.status_code == 200 and answer.json()["tree_size"] == size and size

    return wait_for(caught_up, what="the witness at the hub's latest head")


def restore(deployment, backup) -> None:
    url = deployment.env["CROSSROADS_STORE_URL"]
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        # The store and its audit file, as docs/operations.md says; the lost files' journals
        # must not be replayed.
        for name in ("crossroads.sqlite3", "crossroads.audit.sqlite3"):
            for suffix in ("-wal", "-shm"):
                (deployment.data_dir / f"{name}{suffix}").unlink(missing_ok=True)
        shutil.copy(backup / "store.sqlite3", path)
        shutil.copy(backup / "store.audit.sqlite3", audit_path(path))
        return
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(POSTGRES_DSN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    restored = subprocess.run(
        ["pg_restore", "--no-owner", "--dbname", url, str(backup)], capture_output=True, text=True
    )
    assert restored.returncode == 0, restored.stderr


def test_a_restored_backup_and_the_procedure_satisfy_the_witness_and_audit_verify(
    deployment, tmp_path
):
    sqlite = deployment.env["CROSSROADS_STORE_URL"].startswith("sqlite")
    port = free_port_block(1)
    witness = subprocess.Popen(
        [
            *CLI,
            "witness",
            "--hub-jwks",
            str(deployment.data_dir / "hub-jwks.json"),
            "--data",
            str(tmp_path / "witness"),
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
    )
    witness_url = f"http://127.0.0.1:{port}"
    latest = f"{witness_url}/witness/v1/tree-heads/latest"
    try:
        wait_ready(f"{witness_url}/witness/.well-known/jwks.json", witness, timeout=60)
        deployment.env["CROSSROADS_WITNESS_URLS"] = json.dumps([witness_url])
        deployment.start(0)
        exchanges(deployment, deployment.subjects[:3])
        backed_up = witnessed_all(deployment, latest)

        # The backup, taken while the hub runs.
        if sqlite:
            backup = tmp_path / "backup"
            taken = run(deployment, "backup", str(backup))
            assert taken.returncode == 0, taken.stderr
            assert (backup / "keys").is_dir() and (backup / "secrets.json").exists()
        else:
            backup = tmp_path / "store.dump"
            url = deployment.env["CROSSROADS_STORE_URL"]
            dumped = subprocess.run(
                ["pg_dump", "--format=custom", "--file", str(backup), url],
                capture_output=True,
                text=True,
            )
            assert dumped.returncode == 0, dumped.stderr
        exchanges(deployment, deployment.subjects[3:8])  # after the backup: to be lost
        # Each exchange is at least one audit entry: the witness must have seen them all.
        lost_size = witnessed_all(deployment, latest, at_least=backed_up + 5)
        deployment.hubs.pop(0).send_signal(signal.SIGTERM)
        if sqlite:  # the archive holds what the backup lacks
            exported = run(deployment, "audit", "export")
            assert exported.returncode == 0, exported.stderr

        restore(deployment, backup)
        checked = run(deployment, "audit", "restore-check")
        assert checked.returncode == 1 and "behind" in checked.stdout, checked.stdout
        recovered = run(
            deployment,
            "audit",
            "restore-recover",
            *([] if sqlite else ["--declare", "disk lost; restored from the nightly dump"]),
        )
        assert recovered.returncode == 0, recovered.stdout + recovered.stderr
        checked = run(deployment, "audit", "restore-check")
        assert checked.returncode == 0 and "in_step" in checked.stdout, checked.stdout
        verified = deployment.verify_log()
        assert verified.returncode == 0, verified.stdout + verified.stderr

        declarations = httpx.get(f"{witness_url}/witness/v1/restore-declarations").json()
        if sqlite:
            assert declarations == []  # recovered identically: nothing to declare
        else:
            [declared] = declarations
            assert declared["declaration"]["lost_to"] == lost_size
            assert declared["declaration"]["reason"].startswith("disk lost")
            assert 0 < declared["proven_from"] < lost_size

        # The restarted hub is witnessed again, from where the procedure left the log.
        before = httpx.get(latest).json()["tree_size"]
        deployment.start(0)
        exchanges(deployment, deployment.subjects[8:10])
        wait_for(
            lambda: httpx.get(latest).json()["tree_size"] > before, what="a head after restore"
        )
        assert not (tmp_path / "witness" / "ledger" / "split-views.jsonl").exists()
        # The restarted hub's latest signed head may predate the witness's until it signs the
        # next: that head is covered, not a failed submission.
        metrics = httpx.get(f"{deployment.url(0)}/metrics").text
        assert "crossroads_tree_head_publish_failures_total 0.0" in metrics
    finally:
        witness.send_signal(signal.SIGTERM)
        witness.wait(10)


def test_a_hub_with_no_witness_finds_lost_entries_in_its_archive_and_recovers_them(deployment):
    """No CROSSROADS_WITNESS_URLS (a small hub, the demo): the restored log is compared with the
    audit archive's newest segment, the loss is said and exits 1, and the same recovery appends
    the lost entries again. The commands name the hub's folder with --data-dir alone (SQLite:
    the store in it; PostgreSQL: CROSSROADS_STORE_URL still names the database)."""
    sqlite = deployment.env["CROSSROADS_STORE_URL"].startswith("sqlite")
    folder = ["--data-dir", str(deployment.data_dir)]
    env = {
        k: v
        for k, v in deployment.env.items()
        if k != "CROSSROADS_DATA_DIR" and not (sqlite and k == "CROSSROADS_STORE_URL")
    }

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*CLI, *args, *folder], env=env, capture_output=True, text=True, timeout=120
        )

    deployment.start(0)
    exchanges(deployment, deployment.subjects[:3])
    if sqlite:
        backup = deployment.data_dir.parent / "backup"
        taken = cli("backup", str(backup))
        assert taken.returncode == 0, taken.stderr
        # Says what it copied, and that there was no archive to copy yet.
        assert "keys/, secrets.json" in taken.stdout, taken.stdout
        assert (
            "no audit archive segment" in taken.stdout and not (backup / "audit-archive").exists()
        )
    else:
        backup = deployment.data_dir.parent / "store.dump"
        url = deployment.env["CROSSROADS_STORE_URL"]
        dumped = subprocess.run(
            ["pg_dump", "--format=custom", "--file", str(backup), url], capture_output=True
        )
        assert dumped.returncode == 0, dumped.stderr
    exchanges(deployment, deployment.subjects[3:8])  # after the backup: to be lost
    deployment.hubs.pop(0).send_signal(signal.SIGTERM)
    exported = cli("audit", "export")
    assert exported.returncode == 0, exported.stderr
    archived = int(exported.stdout.split("–")[1].split()[0].replace(",", "")) + 1

    restore(deployment, backup)
    checked = cli("audit", "restore-check")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "no witness configured" in checked.stderr
    assert f"signed {archived:,}, behind" in checked.stdout and "entries lost" in checked.stdout
    recovered = cli("audit", "restore-recover")
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    assert "entries appended again" in recovered.stdout
    assert f"the log holds {archived:,} entries" in recovered.stdout
    checked = cli("audit", "restore-check")
    assert checked.returncode == 0 and "in_step" in checked.stdout, checked.stdout
    verified = cli("audit", "verify")
    assert verified.returncode == 0 and f"{archived:,} entries" in verified.stdout, verified.stdout


def test_restore_check_with_neither_witness_nor_archive_warns_that_it_compared_nothing(
    deployment,
):
    checked = run(deployment, "audit", "restore-check")
    assert checked.returncode == 0, checked.stderr
    assert "no witness configured" in checked.stderr and "holds no segment" in checked.stderr
