"""The citizen's history over a real store: filters apply as entries are read, pages chain."""

from __future__ import annotations

import pytest

from crossroads.adapters.sql.store import open_store
from crossroads.domain.audit import AuditRecord
from crossroads.services.citizen import ConsultationHistory
from crossroads.services.registry_cache import RegistryCache
from crossroads.services.transparency import AuditProofs

pytestmark = pytest.mark.anyio
ME = "cd" * 16


@pytest.fixture
async def history(store_url):
    store = await open_store(store_url)
    yield (
        store,
        ConsultationHistory(
            store.transparency, AuditProofs(store.transparency), RegistryCache(store.registry, 60)
        ),
    )
    await store.close()


async def log(store, n: int, service: str, kind: str = "exchange") -> None:
    for i in range(n):
        await store.audit.append(
            AuditRecord(
                kind=kind,
                at_ms=i,
                outcome="ok",
                request_id=f"{service}-{i}",
                service=service,
                subject_hash=ME,
            )
        )


async def test_a_service_filter_fills_the_page_from_older_entries(history):
    store, use_case = history
    await log(store, 4, "child.benefit/1")
    await log(store, 30, "person.identity/1")  # newer, and more than a page
    await log(store, 3, "x", kind="directory")
    page = await use_case.page(
        bytes.fromhex(ME), limit=3, kinds=frozenset({"exchange"}), service_code="child.benefit"
    )
    assert [c.record.request_id for c in page.consultations] == [
        "child.benefit/1-3",
        "child.benefit/1-2",
        "child.benefit/1-1",
    ]
    rest = await use_case.page(
        bytes.fromhex(ME),
        limit=3,
        before=page.next_before,
        kinds=frozenset({"exchange"}),
        service_code="child.benefit",
    )
    assert [c.record.request_id for c in rest.consultations] == [
        "child.benefit/1-0"
    ] and rest.next_before is None


async def test_pages_of_everything_chain_to_the_end(history):
    store, use_case = history
    await log(store, 7, "person.identity/1")
    seen, before = [], None
    while True:
        page = await use_case.page(bytes.fromhex(ME), limit=3, before=before)
        seen += [c.record.request_id for c in page.consultations]
        if page.next_before is None:
            break
        before = page.next_before
    assert seen == [f"person.identity/1-{i}" for i in range(6, -1, -1)]
