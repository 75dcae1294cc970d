"""Archive segments and retention on both stores: export, check, prune, and what stays
verifiable."""

from __future__ import annotations

import asyncio
import gzip

import pytest

from crossroads.adapters.keys import HubKeys
from crossroads.adapters.sql.store import open_store
from crossroads.domain.audit import AuditRecord
from crossroads.domain.errors import Refusal
from crossroads.services.archive import AuditArchive
from crossroads.services.clock import FixedClock
from crossroads.services.log_auditor import LogAuditor
from crossroads.services.transparency import AuditProofs, Sequencer
from crossroads.verifier import (
    ProofError,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
    verify_segment,
)

pytestmark = pytest.mark.anyio
DAY_MS = 86_400_000
T0 = 1_700_000_000  # seconds


class Log:
    def __init__(self, store, keys, clock, folder) -> None:
        self.store, self.keys, self.clock, self.folder = store, keys, clock, folder
        self.sequencer = Sequencer(
            store.transparency, keys, clock, head_every_entries=10**9, head_every_seconds=10**9
        )
        self.archive = AuditArchive(store.transparency, keys.jwks, clock)
        self.proofs = AuditProofs(store.transparency)
        self.auditor = LogAuditor(store.transparency, keys.jwks)

    async def append(self, count: int, subject: str = "aa" * 16):
        """Append `count` entries dated now, sequence them, and sign a head of the whole tree."""
        first = await self.store.audit.count()
        await asyncio.gather(
            *(
                self.store.audit.append(
                    AuditRecord(
                        kind="exchange",
                        at_ms=self.clock.now_ms(),
                        outcome="ok",
                        request_id=f"r{first + i}",
                        subject_hash=subject,
                    )
                )
                for i in range(count)
            )
        )
        while await self.sequencer.step():
            pass
        return await self.sequencer.sign_now()


@pytest.fixture
async def log(store_url, tmp_path):
    store = await open_store(store_url)
    yield Log(
        store, HubKeys.load_or_create(tmp_path / "keys"), FixedClock(T0), tmp_path / "archive"
    )
    await store.close()


def lines(path) -> list[bytes]:
    with gzip.open(path, "rb") as f:
        return f.readlines()


def rewrite(path, content: list[bytes]) -> None:
    with gzip.open(path, "wb") as f:
        f.writelines(content)


async def test_segments_verify_on_their_own_and_chain(log):
    await log.append(13)
    first = await log.archive.export(log.folder)
    assert (first.start, first.end) == (0, 13)
    assert await log.archive.export(log.folder) is None  # nothing signed since
    await log.append(20)
    second = await log.archive.export(log.folder)
    assert (second.start, second.end) == (13, 33)
    one = verify_segment(lines(log.folder / first.file_name), log.keys.jwks())
    two = verify_segment(lines(log.folder / second.file_name), log.keys.jwks())
    assert two["start_head"] == one["end_head"]
    assert [s.file_name for s in await log.store.transparency.segments()] == [
        first.file_name,
        second.file_name,
    ]
    assert not list(log.folder.glob(".*"))  # no partial file left behind


async def test_a_changed_removed_or_foreign_segment_is_refused(log, tmp_path):
    await log.append(9)
    await log.append(7)
    await log.archive.export(log.folder)
    path = next(log.folder.glob("audit-*"))
    original = lines(path)
    changed = list(original)
    changed[4] = changed[4].replace(b'"ok"', b'"no"')
    removed = original[:3] + original[4:]
    for content in (changed, removed):
        rewrite(path, content)
        with pytest.raises(ProofError):
            verify_segment(lines(path), log.keys.jwks())
    rewrite(path, original)
    verify_segment(lines(path), log.keys.jwks())
    with pytest.raises(ProofError):  # signed by another hub's key: not this hub's history
        verify_segment(lines(path), HubKeys.load_or_create(tmp_path / "other").jwks())


async def test_pruning_keeps_heads_verifiable_and_the_live_log_provable(log):
    old_head = await log.append(21, subject="aa" * 16)
    await log.archive.export(log.folder)
    log.clock.at += 10 * 86_400
    mid_head = await log.append(11, subject="bb" * 16)
    await log.archive.export(log.folder)
    log.clock.at += 40 * 86_400
    await log.append(6, subject="aa" * 16)  # the live end: newer than any segment
    latest = await log.sequencer.sign_now()

    # 45 days: the first segment's entries are 50 days old, the second's 40: only the first goes.
    report = await log.archive.prune(log.folder, retention_days=45)
    assert (report.up_to, report.removed) == (21, 21)
    assert await log.store.transparency.retained_from() == 21
    verified = await log.auditor.verify()
    assert verified.ok, verified.problem
    assert (verified.entries, verified.archived) == (38, 21)

    leaf, path = await log.proofs.inclusion(30, latest.tree_size)
    verify_inclusion(30, latest.tree_size, leaf, path, latest.root_hash)
    assert leaf == leaf_hash(await log.proofs.entry(30))
    verify_consistency(
        mid_head.tree_size,
        latest.tree_size,
        mid_head.root_hash,
        latest.root_hash,
        await log.proofs.consistency(mid_head.tree_size, latest.tree_size),
    )
    for attempt in (
        log.proofs.inclusion(5, latest.tree_size),
        log.proofs.entry(5),
        log.proofs.consistency(old_head.tree_size - 4, latest.tree_size),
    ):
        with pytest.raises(Refusal) as refused:
            await attempt
        assert refused.value.code == "pruned"
    mine = await log.store.transparency.about_subject(bytes.fromhex("aa" * 16), None, 100)
    assert sorted(index for _, index, _ in mine) == list(range(32, 38))  # the pruned 21 are gone

    # The log goes on from there, and stays verifiable.
    await log.append(9)
    verified = await log.auditor.verify()
    assert verified.ok and verified.entries == 47, verified.problem


async def test_nothing_is_pruned_when_a_segment_file_is_missing_or_changed(log):
    await log.append(10)
    segment = await log.archive.export(log.folder)
    log.clock.at += 100 * 86_400
    await log.append(3)
    path = log.folder / segment.file_name
    content = lines(path)
    path.unlink()
    with pytest.raises(RuntimeError, match="missing"):
        await log.archive.prune(log.folder, retention_days=30)
    rewrite(path, content[:-1])
    with pytest.raises(RuntimeError, match="not the file exported"):
        await log.archive.prune(log.folder, retention_days=30)
    assert await log.store.transparency.retained_from() == 0
    assert await log.store.audit.count() == 13


async def test_the_live_end_of_the_log_is_never_pruned(log):
    await log.append(10)
    await log.archive.export(log.folder)  # ends at the tree's size: its last entry gives the size
    log.clock.at += 100 * 86_400
    report = await log.archive.prune(log.folder, retention_days=30)
    assert (report.up_to, report.removed, report.segments) == (0, 0, [])
    assert await log.store.transparency.size() == 10


async def test_an_export_that_fails_leaves_nothing_behind(log):
    await log.append(12)
    async with log.store.audit_db.transaction() as tx:
        await tx.execute("DELETE FROM audit_log WHERE leaf_index = 7")
    with pytest.raises(RuntimeError, match="no entry 7"):
        await log.archive.export(log.folder)
    assert list(log.folder.iterdir()) == []
    assert await log.store.transparency.segments() == []
