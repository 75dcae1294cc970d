"""What one member, or one person, piles up in the hub never hides or buries what others have
there: a member whose webhook fails collects dead letters without hiding another institution's
from that institution's staff, and a person who reports the same data as wrong again and again
fills no source's queue of reports (docs/security.md, "Shared queues"). On SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from datetime import date

import pytest

from crossroads.demo import country
from crossroads.domain.audit import AuditRecord
from crossroads.domain.data_reports import MAX_OPEN_REPORTS
from crossroads.domain.mutations import Mutation, Subscription
from crossroads.entrypoints.api import institution_pages

from ..conftest import start_demo_hub
from ..e2e.portal_browsing import SAME_ORIGIN, browser, csrf_of, sign_in

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
    # Counted as its own too: not the other member's thousand, nor "the oldest 1 of 1,002".
    assert "<caption>Dead letters (1)</caption>" in page.text and 'id="shown"' not in page.text


async def test_an_institutions_dead_letters_are_listed_and_counted_alike(portal_demo, monkeypatch):
    """Those of a subscription whose application was removed included: the page listed only the
    registered applications' and counted them all, and said "the oldest 1 of 2" of a list that
    would never grow."""
    monkeypatch.setattr(institution_pages, "DEAD_LETTERS_SHOWN", 3)
    store = portal_demo.hub.store.mutations
    for sub_id, application in (("ours", "case-app"), ("left", "removed-app")):
        await store.add_subscription(
            Subscription(
                sub_id, WELFARE, application, "person.address", "ISC/25/401", "push", "https://y/h"
            )
        )
    await _dead_letters(portal_demo, "left", "left", 1)
    await _dead_letters(portal_demo, "ours", "ours", 1)
    async with browser(portal_demo) as client:
        await sign_in(client, "/portal/login", "institution-viewer")
        page = (await client.get("/portal/institution/subscriptions?lang=en")).text
        assert "<caption>Dead letters (2)</caption>" in page and "<code>left</code>" in page
        assert 'id="shown"' not in page
        await _dead_letters(portal_demo, "ours", "more", 3)
        page = (await client.get("/portal/institution/subscriptions?lang=en")).text
        assert "<caption>Dead letters (5)</caption>" in page
        assert "3 of 5 are listed here, oldest first." in page
        # The next page lists the rest, from where the first stopped.
        after = re.search(r'id="next-page" href="\?after=(\d+)"', page).group(1)
        rest = (await client.get(f"/portal/institution/subscriptions?after={after}&lang=en")).text
        assert "2 of 5 are listed here, oldest first." in rest and 'id="next-page"' not in rest
        assert 'id="first-page"' in rest and rest.count("<code>ours</code>") == 2
        refused = await client.get("/portal/institution/subscriptions?after=-1")
        assert refused.status_code == 400 and refused.headers["x-road-error"] == "malformed_request"


async def _report(client, token: str, message: str):
    return await client.post(
        "/citizen/report",
        data={"csrf": token, "service": "person.address", "message": message},
        headers=SAME_ORIGIN,
    )


async def test_a_person_keeps_a_bounded_number_of_open_reports_per_service(portal_demo):
    async with browser(portal_demo) as client:
        await sign_in(client, "/citizen/login", "citizen-1")
        token = csrf_of((await client.get("/citizen/data")).text)
        for n in range(MAX_OPEN_REPORTS):
            sent = await _report(client, token, f"wrong street {n}")
            assert sent.status_code == 303, sent.text
        refused = await _report(client, token, "wrong street, once more")
        assert refused.status_code == 429, refused.text
        assert refused.headers["x-road-error"] == "quota_exceeded"
        assert "wrong street, once more" in refused.text  # the form comes back as typed
        # Another service's data is reported still: the bound is per service.
        other = await client.post(
            "/citizen/report",
            data={"csrf": token, "service": "person.identity", "message": "wrong name"},
            headers=SAME_ORIGIN,
        )
        assert other.status_code == 303, other.text
    reports = await portal_demo.hub.store.data_reports.of_source(NR, 0, 100)
    assert [r.service for r in reports].count("person.address") == MAX_OPEN_REPORTS
    records = [
        AuditRecord.from_canonical(raw)
        for _, raw in await portal_demo.hub.store.audit.read(0, 100000)
    ]
    assert any(r.outcome == "quota_exceeded" for r in records if r.kind == "request")
    # Once the source answers one, the person may report again.
    first = min(r.id for r in reports if r.service == "person.address")
    assert await portal_demo.hub.store.data_reports.close(first, NR, 1, "corrected")
    async with browser(portal_demo) as client:
        await sign_in(client, "/citizen/login", "citizen-1")
        token = csrf_of((await client.get("/citizen/data")).text)
        again = await _report(client, token, "still wrong")
        assert again.status_code == 303, again.text
