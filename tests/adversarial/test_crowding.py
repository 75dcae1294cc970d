"""What one member piles up in the hub never hides what others have there: a member whose
webhook fails collects dead letters without hiding another institution's from that institution's
staff (docs/security.md, "Shared queues"). On SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import date

import pytest

from crossroads.demo import country
from crossroads.domain.mutations import Mutation, Subscription

from ..conftest import start_demo_hub
from ..e2e.portal_browsing import browser, sign_in

pytestmark = pytest.mark.anyio
WELFARE = country.BY_KEY["welfare"].number
UNEMPLOYMENT = country.BY_KEY["unemployment"].number
NR = country.BY_KEY["nr"].number


@pytest.fixture
async def portal_demo(tmp_path, store_url):
    demo = await start_demo_hub(tmp_path, store_url, persons=20, demo=True)
    yield demo
    await demo.http.aclose()
    await demo.hub.close()


def _mutation(mutation_id: str) -> Mutation:
    return Mutation(
        mutation_id,
        "person.address-change",
        "1",
        NR,
        "79122244457",
        b"k" * 16,
        date(2026, 5, 1),
        {"city": "Namur"},
        1,
    )


async def _dead_letters(demo, subscription: str, prefix: str, count: int) -> None:
    """`count` messages to `subscription` that failed for good, as a webhook that never answers
    leaves them."""
    store = demo.hub.store.mutations
    await store.publish_many(
        [(_mutation(f"{prefix}-{n}"), b"d", [(subscription, b"{}")]) for n in range(count)]
    )
    due = await store.due_pushes(subscription, 0, count)
    assert len(due) == count
    await store.failed([d.seq for d in due], "provider_unavailable: refused", 0, 1)


async def test_a_member_with_many_dead_letters_does_not_hide_another_institutions(portal_demo):
    store = portal_demo.hub.store.mutations
    noisy = Subscription(
        "noisy", UNEMPLOYMENT, "benefits-app", "person.birth", "ISC/25/402", "push", "https://x/h"
    )
    ours = Subscription(
        "ours", WELFARE, "case-app", "person.address", "ISC/25/401", "push", "https://y/h"
    )
    assert await store.add_subscription(noisy) and await store.add_subscription(ours)
    await _dead_letters(portal_demo, "noisy", "noisy", 1001)  # more than the page reads
    await _dead_letters(portal_demo, "ours", "ours", 1)
    async with browser(portal_demo) as client:
        await sign_in(client, "/portal/login", "institution-viewer")
        page = await client.get("/portal/institution/subscriptions?lang=en")
    assert page.status_code == 200, page.text
    assert 'id="dead-letters"' in page.text and "<code>ours</code>" in page.text
    assert "<code>noisy</code>" not in page.text
