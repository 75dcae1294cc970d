"""A citizen's history (services/citizen.py) on the fakes: the real sequencer and proofs
(services/transparency.py) over the in-memory transparency log. A person sees the exchanges about
them, newest first, and only theirs, each with an inclusion proof against the signed head."""

from __future__ import annotations

import orjson
import pytest

from crossroads.services.citizen import ConsultationHistory
from crossroads.services.exchange import ExchangeRequest
from crossroads.services.ports import ProviderReply
from crossroads.services.registry_cache import RegistryCache
from crossroads.services.transparency import AuditProofs, Sequencer
from crossroads.verifier import leaf_hash, verify_inclusion

from .conftest import PERSON, STRANGER, WELFARE, WELFARE_APP, seed_identity

pytestmark = pytest.mark.anyio


async def answer(body: bytes, headers: dict[str, str]) -> ProviderReply:
    return ProviderReply(200, orjson.dumps({"name": "Peeters"}), "application/json")


@pytest.fixture
async def consulted(world):
    """The welfare centre holds PERSON and STRANGER, and asks the register about PERSON (r-1),
    STRANGER (r-2), then PERSON again (r-3); the log is then sequenced and a head signed."""
    await seed_identity(world)
    world.providers.answers["http://nr.test/services/person.identity/1"] = answer
    for subject in (PERSON, STRANGER):
        await world.directory.change(
            {
                "op": "integrate",
                "subject": subject,
                "institution": WELFARE,
                "capacity": "SOCIAL_ASSISTANCE",
                "start": "2024-01-01",
            },
            WELFARE,
            "test",
        )
    for request_id, subject in (("r-1", PERSON), ("r-2", STRANGER), ("r-3", PERSON)):
        await world.exchange.handle(
            ExchangeRequest(
                caller=WELFARE_APP,
                service="person.identity",
                subject=subject,
                purpose="SOCIAL_INTEGRATION",
                request_id=request_id,
            )
        )
    sequencer = Sequencer(
        world.store.transparency,
        world.keys,
        world.clock,
        head_every_entries=1000,
        head_every_seconds=3600,
    )
    assert await sequencer.step() == len(world.store.audit.entries)
    await sequencer.sign_now()
    return world


def history(world) -> ConsultationHistory:
    log = world.store.transparency
    return ConsultationHistory(
        log, AuditProofs(log), RegistryCache(world.store.registry, 0), world.store.mutations
    )


async def test_a_person_sees_the_exchanges_about_them_newest_first_and_only_theirs(consulted):
    world = consulted
    page = await history(world).page(world.hasher.key(PERSON), kinds=frozenset({"exchange"}))
    assert [c.record.request_id for c in page.consultations] == ["r-3", "r-1"]
    assert all(c.record.subject_hash == world.hasher.hex(PERSON) for c in page.consultations)
    first = page.consultations[0]
    assert (first.institution_name, first.service_name, first.legal_basis) == (
        "Welfare centre",
        "Identity",
        "Law of 26 May 2002",
    )
    head = page.tree_head
    assert head is not None and head.tree_size == len(world.store.audit.entries)
    for consultation in page.consultations:
        assert consultation.leaf_index is not None and consultation.inclusion_path is not None
        verify_inclusion(
            consultation.leaf_index,
            head.tree_size,
            leaf_hash(consultation.entry),
            consultation.inclusion_path,
            head.root_hash,
        )
    other = await history(world).page(world.hasher.key(STRANGER), kinds=frozenset({"exchange"}))
    assert [c.record.request_id for c in other.consultations] == ["r-2"]


async def test_pages_go_back_in_time_with_the_cursor(consulted):
    world = consulted
    key = world.hasher.key(PERSON)
    newest = await history(world).page(key, limit=1, kinds=frozenset({"exchange"}))
    assert [c.record.request_id for c in newest.consultations] == ["r-3"]
    assert newest.next_before is not None
    older = await history(world).page(
        key, limit=1, before=newest.next_before, kinds=frozenset({"exchange"})
    )
    assert [c.record.request_id for c in older.consultations] == ["r-1"]
    assert older.next_before is None


async def test_an_entry_logged_after_the_head_is_listed_without_a_proof(consulted):
    world = consulted
    await world.exchange.handle(
        ExchangeRequest(
            caller=WELFARE_APP,
            service="person.identity",
            subject=PERSON,
            purpose="SOCIAL_INTEGRATION",
            request_id="r-4",
        )
    )
    page = await history(world).page(world.hasher.key(PERSON), kinds=frozenset({"exchange"}))
    latest = page.consultations[0]
    assert (latest.record.request_id, latest.leaf_index, latest.inclusion_path) == (
        "r-4",
        None,
        None,
    )


async def test_the_page_without_proofs_marks_only_the_entries_under_the_signed_head(consulted):
    """The HTML list reads no audit paths; an entry sequenced after the head is not marked."""
    world = consulted
    await world.exchange.handle(
        ExchangeRequest(
            caller=WELFARE_APP,
            service="person.identity",
            subject=PERSON,
            purpose="SOCIAL_INTEGRATION",
            request_id="r-4",
        )
    )
    sequencer = Sequencer(
        world.store.transparency,
        world.keys,
        world.clock,
        head_every_entries=1000,
        head_every_seconds=3600,
    )
    assert await sequencer.step() == 1  # r-4 has its index, but no head is signed over it
    key = world.hasher.key(PERSON)
    page = await history(world).page(key, kinds=frozenset({"exchange"}), proofs=False)
    assert [(c.record.request_id, c.under_head) for c in page.consultations] == [
        ("r-4", False),
        ("r-3", True),
        ("r-1", True),
    ]
    assert page.consultations[0].leaf_index is not None
    assert all(c.inclusion_path is None for c in page.consultations)
    proved = await history(world).page(key, kinds=frozenset({"exchange"}))
    assert [c.under_head for c in proved.consultations] == [False, True, True]
    assert [c.inclusion_path is not None for c in proved.consultations] == [False, True, True]
