"""A backup restored to an earlier point, then the documented procedure (docs/operations.md,
"Backup and restore"): the witness and `audit verify` agree with what the procedure says.

Both stores: SQLite backed up with sqlite3's online backup API (what `crossroads backup` runs),
PostgreSQL copied with CREATE DATABASE … TEMPLATE (a stand-in for pg_dump/pg_restore or PITR).
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import sqlite3

import httpx
import psycopg
import pytest

from crossroads.adapters.head_targets import WitnessTarget
from crossroads.adapters.keys import HubKeys
from crossroads.adapters.sql.audit_file import audit_path
from crossroads.adapters.sql.store import open_store, sqlite_path
from crossroads.domain.audit import AuditRecord
from crossroads.entrypoints.witness import create_witness_app
from crossroads.services.archive import AuditArchive
from crossroads.services.clock import FixedClock
from crossroads.services.head_publisher import HeadPublisher
from crossroads.services.log_auditor import LogAuditor
from crossroads.services.log_restore import LogRestore
from crossroads.services.transparency import AuditProofs, Sequencer

from ..conftest import POSTGRES_DSN

pytestmark = pytest.mark.anyio
CLOCK = FixedClock(1_700_000_000)


class Hub:
    """A hub's audit side on a real store: sequencer, publisher to a witness, archive, restore."""

    def __init__(self, store, keys, witness: WitnessTarget) -> None:
        self.store, self.keys, self.witness = store, keys, witness
        log = store.transparency
        self.sequencer = Sequencer(
            log, keys, CLOCK, head_every_entries=10**9, head_every_seconds=10**9
        )
        self.proofs = AuditProofs(log)
        self.publisher = HeadPublisher(
            log, self.proofs.consistency, [witness], self.sequencer.hold_heads
        )
        self.archive = AuditArchive(log, keys.jwks, CLOCK)
        self.restore = LogRestore(log, store.audit, self.sequencer, self.proofs, keys.jwks, CLOCK)

    async def grow(self, count: int, tag: str) -> None:
        await self.store.audit.append_many(
            [
                AuditRecord(kind="exchange", at_ms=i, outcome="ok", request_id=f"{tag}-{i}")
                for i in range(count)
            ]
        )
        while await self.sequencer.step():
            pass
        await self.sequencer.sign_now()

    async def verify(self):
        return await LogAuditor(self.store.transparency, self.keys.jwks).verify()


def backup_sqlite(url: str, to: str) -> str:
    """The store, then its audit file, as `crossroads backup` copies them."""
    for source_path, copy_path in (
        (sqlite_path(url), to),
        (audit_path(sqlite_path(url)), audit_path(to)),
    ):
        with sqlite3.connect(source_path) as source, sqlite3.connect(copy_path) as copy:
            source.backup(copy)
    return f"sqlite:///{to}"


def backup_postgres(url: str) -> str:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(POSTGRES_DSN, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        admin.execute(f'CREATE DATABASE "{name}_backup" TEMPLATE "{name}"')
    return url + "_backup"


@pytest.fixture
async def world(tmp_path, store_url):
    keys = HubKeys.load_or_create(tmp_path / "hub-keys")
    app = create_witness_app(tmp_path / "witness", keys.jwks())
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://w.test")
    opened = []

    async def hub(url: str) -> Hub:
        store = await open_store(url)
        opened.append(store)
        return Hub(store, keys, WitnessTarget("http://w.test", http))

    yield hub, http, store_url, tmp_path
    for store in opened:
        await store.close()
    await http.aclose()
    if store_url.startswith("postgresql"):
        from ..conftest import drop_postgres_database

        drop_postgres_database(store_url + "_backup")


async def backup(store_url: str, tmp_path) -> str:
    if store_url.startswith("sqlite"):
        return backup_sqlite(store_url, str(tmp_path / "backup.sqlite3"))
    return await asyncio.to_thread(backup_postgres, store_url)


async def witnessed(http) -> dict:
    return (await http.get("/witness/v1/tree-heads/latest")).json()


async def split_views(tmp_path) -> list:
    path = tmp_path / "witness/ledger/split-views.jsonl"
    return path.read_text().splitlines() if path.exists() else []


async def test_a_restore_recovered_from_the_archive_reproduces_the_witnessed_root(world):
    hub, http, store_url, tmp_path = world
    live = await hub(store_url)
    await live.grow(5, "a")
    assert await live.publisher.publish_latest() == 1
    await live.store.close()
    restored_url = await backup(store_url, tmp_path)
    live = await hub(store_url)
    await live.grow(7, "b")  # written after the backup, exported, then witnessed
    assert await live.archive.export(tmp_path / "archive") is not None
    assert await live.publisher.publish_latest() == 1
    assert (await witnessed(http))["tree_size"] == 12

    # The store is lost; the backup comes back. The procedure: restore-check, then recover.
    restored = await hub(restored_url)
    state = await restored.restore.compare("http://w.test", await restored.witness.latest())
    assert (state.state, state.witnessed_size, await restored.store.transparency.size()) == (
        "behind",
        12,
        5,
    )
    segments = sorted((tmp_path / "archive").glob("audit-*.jsonl.gz"))
    assert await restored.restore.recover(segments, 12) == 7
    state = await restored.restore.compare("http://w.test", await restored.witness.latest())
    assert state.state == "in_step"
    report = await restored.verify()
    assert report.problem is None and report.entries == 12
    await restored.grow(3, "c")
    assert await restored.publisher.publish_latest() == 1
    assert (await witnessed(http))["tree_size"] == 15 and await split_views(tmp_path) == []
    assert (await http.get("/witness/v1/restore-declarations")).json() == []


async def test_a_restore_without_the_archive_is_declared_and_the_witness_records_it(world):
    hub, http, store_url, tmp_path = world
    live = await hub(store_url)
    await live.grow(4, "a")
    assert await live.publisher.publish_latest() == 1
    await live.store.close()
    restored_url = await backup(store_url, tmp_path)
    live = await hub(store_url)
    await live.grow(6, "b")
    assert await live.publisher.publish_latest() == 1
    lost = await witnessed(http)
    assert lost["tree_size"] == 10

    restored = await hub(restored_url)
    state = await restored.restore.compare("http://w.test", await restored.witness.latest())
    assert (state.state, state.witnessed_size) == ("behind", 10)
    # Started without the procedure, the restored hub grows past the witnessed size: its
    # publisher sees that the log does not extend the witnessed head and submits nothing, so
    # the witness records no split view.
    await restored.grow(8, "c")
    assert await restored.publisher.publish_latest() == 0 and restored.publisher.failures == 1
    assert await split_views(tmp_path) == []
    assert restored.sequencer.held is not None  # and so no head is signed when due
    state = await restored.restore.compare("http://w.test", await restored.witness.latest())
    assert state.state == "diverged"  # 12 entries now, not the 10 the witness saw

    # No archive holds entries 4-9: the loss is declared, signed, audited and witnessed.
    head, entry, path = await restored.restore.declare(lost, "disk failure; backup of 04:00")
    cosignature = await restored.witness.declare_restore(
        head, entry, path, restored.proofs.consistency, await restored.store.transparency.heads()
    )
    assert cosignature and (await witnessed(http))["tree_size"] == 13
    [declared] = (await http.get("/witness/v1/restore-declarations")).json()
    assert declared["previous"]["root_hash"] == lost["root_hash"]
    assert declared["proven_from"] == 4  # the restored log still holds the head of 4 entries
    assert declared["declaration"] == {
        "restored_size": 12,
        "lost_from": 12,
        "lost_to": 10,
        "witnessed_root": lost["root_hash"],
        "reason": "disk failure; backup of 04:00",
    }
    assert AuditRecord.from_canonical(base64.b64decode(declared["entry"])).kind == "audit"
    report = await restored.verify()
    assert report.problem is None and report.entries == 13
    # From there on the witness checks the restored history as any other.
    await restored.grow(2, "d")
    assert await restored.publisher.publish_latest() == 1 and restored.sequencer.held is None
    assert (await witnessed(http))["tree_size"] == 15 and await split_views(tmp_path) == []
    # A declaration that does not name the witnessed head is refused.
    head, entry, path = await restored.restore.declare(lost, "again")
    with pytest.raises(RuntimeError, match="invalid_restore_declaration"):
        await restored.witness.declare_restore(
            head,
            entry,
            path,
            restored.proofs.consistency,
            await restored.store.transparency.heads(),
        )
    assert (
        json.loads((tmp_path / "witness/ledger/countersigned.jsonl").read_text().splitlines()[-1])[
            "tree_size"
        ]
        == 15
    )


async def test_without_a_witness_the_archive_finds_and_recovers_the_lost_entries(world):
    hub, _, store_url, tmp_path = world
    live = await hub(store_url)
    await live.grow(5, "a")
    await live.store.close()
    restored_url = await backup(store_url, tmp_path)
    live = await hub(store_url)
    await live.grow(7, "b")  # after the backup; exported, never witnessed
    assert await live.archive.export(tmp_path / "archive") is not None

    restored = await hub(restored_url)
    segments = sorted((tmp_path / "archive").glob("audit-*.jsonl.gz"))
    archived = restored.restore.archive_head(segments)
    state = await restored.restore.compare("archive", archived)
    assert (state.state, state.witnessed_size, await restored.store.transparency.size()) == (
        "behind",
        12,
        5,
    )
    assert await restored.restore.recover(segments, state.witnessed_size) == 7
    assert (await restored.restore.compare("archive", archived)).state == "in_step"
    report = await restored.verify()
    assert report.problem is None and report.entries == 12
    assert restored.restore.archive_head([]) is None
    # A newest segment that does not verify is said, never compared with.
    forged = tmp_path / "archive" / "audit-999999999999-999999999999.jsonl.gz"
    forged.write_bytes(gzip.compress(b'{"format": "x"}\n'))
    with pytest.raises(RuntimeError, match="NOT verified"):
        restored.restore.archive_head([*segments, forged])
