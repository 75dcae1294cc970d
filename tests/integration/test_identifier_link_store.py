"""The store of identifier links with peer hubs, on SQLite and on PostgreSQL: one link per person
and peer in each direction, replaced by its authority, withdrawn once."""

from __future__ import annotations

import pytest

from crossroads.adapters.sql.store import open_store
from crossroads.domain.identifier_links import IdentifierLink

pytestmark = pytest.mark.anyio
NR = "0200000131"
ANNA, BERT = "85073100130", "90020100229"
ANNA_EE, BERT_EE = "38001085718", "49403136526"


@pytest.fixture
async def links(store_url):
    opened = await open_store(store_url)
    yield opened.identifier_links
    await opened.close()


async def test_a_link_is_found_in_both_directions_and_only_for_its_peer(links):
    assert await links.record(IdentifierLink("EE", ANNA, ANNA_EE, NR, 1)) is None
    assert (await links.remote_of("EE", ANNA)).remote == ANNA_EE
    assert (await links.local_of("EE", ANNA_EE)).local == ANNA
    assert await links.remote_of("FI", ANNA) is None
    assert await links.local_of("FI", ANNA_EE) is None
    assert await links.remote_of("EE", BERT) is None


async def test_a_link_is_replaced_for_its_person_and_refused_for_another(links):
    await links.record(IdentifierLink("EE", ANNA, ANNA_EE, NR, 1))
    # The authority corrects Anna's link: the new identifier replaces the old one.
    assert await links.record(IdentifierLink("EE", ANNA, BERT_EE, NR, 2)) is None
    assert (await links.remote_of("EE", ANNA)).recorded_at_ms == 2
    assert await links.local_of("EE", ANNA_EE) is None
    # Bert cannot take the identifier Anna holds: the link in the way is answered, nothing
    # written.
    taken = await links.record(IdentifierLink("EE", BERT, BERT_EE, NR, 3))
    assert taken is not None and taken.local == ANNA
    assert await links.remote_of("EE", BERT) is None
    # The same remote identifier with another peer is another link.
    assert await links.record(IdentifierLink("FI", BERT, BERT_EE, NR, 4)) is None


async def test_a_link_is_withdrawn_once(links):
    await links.record(IdentifierLink("EE", ANNA, ANNA_EE, NR, 1))
    assert await links.withdraw("EE", ANNA)
    assert not await links.withdraw("EE", ANNA)
    assert await links.local_of("EE", ANNA_EE) is None
    assert await links.record(IdentifierLink("EE", BERT, ANNA_EE, NR, 2)) is None
