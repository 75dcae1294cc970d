"""The registry's competent institution per right, on SQLite and PostgreSQL over a real
connection: one entry per right, replaced in place, removed once."""

from __future__ import annotations

import pytest

from crossroads.adapters.sql.store import open_store
from crossroads.domain.rights import Competence

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
