"""The registry's competent institution per right, on SQLite and PostgreSQL over a real
connection: one entry per right, replaced in place, removed once."""

from __future__ import annotations

import orjson
import pytest

from crossroads.adapters.sql.migrate import _statements, available
from crossroads.adapters.sql.store import open_store
from crossroads.domain.rights import Competence, Decision, RuleOutcome

pytestmark = pytest.mark.anyio
FUND = "0411905847"


@pytest.fixture
async def competence(store_url):
    store = await open_store(store_url)
    yield store.rights_competence
    await store.close()


async def test_an_entry_is_created_replaced_listed_and_removed_once(competence):
    assert await competence.get_competence("increased-reimbursement") is None
    by_fund = Competence("increased-reimbursement", capacity="HEALTH_INSURED", legal_basis="law")
    assert await competence.put_competence(by_fund) is True
    assert await competence.get_competence("increased-reimbursement") == by_fund

    fixed = Competence("increased-reimbursement", institution=FUND, legal_basis="new law")
    assert await competence.put_competence(fixed) is False  # replaced, not added
    assert await competence.get_competence("increased-reimbursement") == fixed
    tariff = Competence("social-energy-tariff", institution=FUND)
    await competence.put_competence(tariff)
    assert await competence.list_competences() == [fixed, tariff]

    assert await competence.delete_competence("increased-reimbursement") is True
    assert await competence.delete_competence("increased-reimbursement") is False
    assert await competence.get_competence("increased-reimbursement") is None
    assert await competence.list_competences() == [tariff]


async def test_migration_0018_fills_the_rights_marts_columns_of_earlier_decisions(store_url):
    """A decision stored before 0018 has neither column: the migration's UPDATE reads them from
    its body, in each dialect's own JSON functions."""
    store = await open_store(store_url)
    try:
        body = {
            "origin": "non-take-up",
            "facts": [{"name": "household_income", "value": 1.0}, {"name": "child", "value": True}],
        }
        for n, facts in enumerate((body["facts"], body["facts"][:1])):
            async with store.db.transaction() as tx:
                await tx.execute(
                    "INSERT INTO rights_decisions (id, seq, subject_key, subject, right_code,"
                    " change, competent, status, decided_at_ms, body, changed) VALUES (?, ?, ?,"
                    " '', 'r', 'granted', NULL, 'pending', 0, ?, ?)",
                    (
                        f"d{n}",
                        n,
                        bytes([n]) * 16,
                        orjson.dumps({**body, "facts": facts}).decode(),
                        n + 1,
                    ),
                )
        [(_, _, sql)] = [m for m in available(store.db.dialect) if m[0] == 18]
        [update] = [s for s in _statements(sql) if s.startswith("UPDATE")]
        async with store.db.transaction() as tx:
            await tx.execute(update)
        rows = await store.db.fetchall(
            "SELECT origin, age_group FROM rights_decisions ORDER BY seq"
        )
        assert [tuple(row) for row in rows] == [("non-take-up", "child"), ("non-take-up", None)]
    finally:
        await store.close()


async def test_migration_0023_numbers_earlier_decisions_in_their_order_and_goes_on_after(
    store_url,
):
    """Decisions stored before 0023 take change numbers in the order they were stored (seq),
    and a decision stored afterwards draws the next one, above them, on either store."""
    store = await open_store(store_url)
    try:
        async with store.db.transaction() as tx:
            for n, seq in enumerate((30, 10, 20)):
                await tx.execute(
                    "INSERT INTO rights_decisions (id, seq, subject_key, subject, right_code,"
                    " change, competent, status, decided_at_ms, body, changed) VALUES (?, ?, ?,"
                    " '', 'r', 'granted', NULL, 'pending', 0, '{}', ?)",
                    (f"d{seq}", seq, bytes([n]) * 16, 100 + n),
                )
        [(_, _, sql)] = [m for m in available(store.db.dialect) if m[0] == 23]
        numbering = [s for s in _statements(sql) if s.startswith(("UPDATE", "SELECT"))]
        async with store.db.transaction() as tx:
            for statement in numbering:
                await tx.execute(statement)
        rows = await store.db.fetchall("SELECT id, changed FROM rights_decisions ORDER BY seq")
        assert [tuple(row) for row in rows] == [("d10", 1), ("d20", 2), ("d30", 3)]
        decision = Decision(
            id="later",
            subject="",
            right="r",
            change="granted",
            outcome=RuleOutcome("r", True, None, "v", "2026-01", {}, ()),
            facts=(),
            competent=None,
            decided_at_ms=0,
        )
        await store.rights.add([decision], b"k" * 16)
        [row] = await store.db.fetchall("SELECT changed FROM rights_decisions WHERE id = 'later'")
        assert row[0] == 4
    finally:
        await store.close()
