"""The operator's pages: signed in through the development identity provider, an operator with
a role reads the registry, the dead letters, the audit log and the hub's activity in their
language; without a role, or without signing in, they see no data."""

from __future__ import annotations

import re
from datetime import date

import pytest

from crossroads.demo import country
from crossroads.domain.mutations import Mutation, Subscription
from crossroads.entrypoints.api import operator_pages
from crossroads.entrypoints.api.operator_tables import TABLES

from ..conftest import start_demo_hub
from .test_operators import register, signed_in

pytestmark = pytest.mark.anyio
WELFARE = country.BY_KEY["welfare"]


async def test_signing_in_lands_on_the_overview_with_health_and_throughput_charts(operators_demo):
    demo = operators_demo
    await register(demo, "person:olga", "read-only")
    browser, _ = await signed_in(demo, "olga")
    page = await browser.get("/operator/?lang=fr")
    assert page.status_code == 200, page.text
    assert page.headers["content-language"] == "fr"
    assert "Échanges répondus par jour" in page.text
    assert 'id="health"' in page.text and "<svg" in page.text
    assert "script" not in page.text.lower()
    await browser.aclose()


@pytest.fixture
async def demo_on_each_store(tmp_path, store_url):
    demo = await start_demo_hub(tmp_path, store_url, persons=20, demo=True)
    yield demo
    await demo.http.aclose()
    await demo.hub.close()


async def set_aside(demo, count: int) -> list[int]:
    """`count` messages to a welfare webhook, each failed for good; their seqs, oldest first."""
    store = demo.hub.store.mutations
    await store.add_subscription(
        Subscription(
            "dead-hook", WELFARE.number, "case-app", "person.address", "A1", "push", "https://x/h"
        )
    )
    for n in range(count):
        mutation = Mutation(
            f"dead-{n}",
            "person.address",
            "1",
            WELFARE.number,
            "79122244457",
            b"k" * 16,
            date(2024, 5, 1),
            {"city": "Namur"},
            1,
        )
        await store.publish(mutation, b"d", [("dead-hook", b"{}")])
    due = [d.seq for d in await store.due_pushes("dead-hook", 0, count)]
    await store.failed(due, "provider_error: 503", 1_000, 1_000)
    return due


async def test_dead_letters_come_a_page_at_a_time_each_counted_and_said(
    demo_on_each_store, monkeypatch
):
    """The overview and the page count every dead letter; the page lists the oldest, says how
    many of how many, and links to the next page, which lists the rest (the page once stopped at
    the oldest 1,000, and an operator could not see the others to replay or drop them)."""
    demo = demo_on_each_store
    monkeypatch.setattr(operator_pages, "DEAD_LETTERS_SHOWN", 2)
    due = await set_aside(demo, 3)
    await register(demo, "person:olga", "read-only")
    browser, _ = await signed_in(demo, "olga")
    overview = (await browser.get("/operator/?lang=en")).text
    assert '<a href="/operator/dead-letters">Dead letters</a>: 3</li>' in overview
    page = (await browser.get("/operator/dead-letters?lang=en")).text
    assert "<caption>Dead letters (3)</caption>" in page
    assert re.findall(r'<tr><th scope="row">(\d+)</th>', page) == [str(s) for s in due[:2]]
    assert "2 of 3 are listed here, oldest first." in page
    assert 'id="first-page"' not in page
    assert f'<a id="next-page" href="?after={due[1]}">Next page</a>' in page
    french = (await browser.get("/operator/dead-letters?lang=fr")).text
    assert "2 sur 3 sont listées ici, les plus anciennes d'abord." in french
    assert ">Page suivante</a>" in french
    rest = (await browser.get(f"/operator/dead-letters?after={due[1]}&lang=en")).text
    assert "<caption>Dead letters (3)</caption>" in rest
    assert re.findall(r'<tr><th scope="row">(\d+)</th>', rest) == [str(due[2])]
    assert "1 of 3 are listed here, oldest first." in rest
    assert '<a id="first-page" href="?">First page</a>' in rest and 'id="next-page"' not in rest
    beyond = (await browser.get(f"/operator/dead-letters?after={due[2]}&lang=en")).text
    assert f"No dead letter follows sequence {due[2]}." in beyond and 'id="first-page"' in beyond
    for bad in ("-1", "x", "1.5", "²", "9" * 20, str(2**63)):
        refused = await browser.get("/operator/dead-letters", params={"after": bad})
        assert refused.status_code == 400, (bad, refused.text[-500:])
        assert refused.headers["x-road-error"] == "malformed_request"
    await browser.aclose()


async def test_a_full_page_of_dead_letters_that_is_all_of_them_is_not_said_partial(
    demo_on_each_store, monkeypatch
):
    demo = demo_on_each_store
    monkeypatch.setattr(operator_pages, "DEAD_LETTERS_SHOWN", 1)
    await set_aside(demo, 1)
    await register(demo, "person:olga", "read-only")
    browser, _ = await signed_in(demo, "olga")
    page = (await browser.get("/operator/dead-letters?lang=en")).text
    assert page.count('<tr><th scope="row">') == 1
    assert 'id="shown"' not in page and 'id="next-page"' not in page
    await browser.aclose()


async def test_the_overview_counts_what_the_registry_lists(demo_on_each_store):
    demo = demo_on_each_store
    await register(demo, "person:olga", "read-only")
    browser, _ = await signed_in(demo, "olga")
    queries = demo.hub.registry_queries
    expected = {
        "members": len(await queries.institutions()),
        "applications": len(await queries.applications()),
        "services": len(await queries.services()),
        "authorizations": len(await queries.authorizations()),
    }
    assert await queries.counts() == expected and min(expected.values()) > 0
    page = (await browser.get("/operator/?lang=en")).text
    counts = page.split('id="counts"')[1].split("</ul>")[0]
    for name, count in expected.items():
        assert f'href="/operator/{name}">' in counts and f": {count}</li>" in counts, name
    await browser.aclose()


async def test_every_registry_page_lists_what_the_registry_holds(operators_demo):
    demo = operators_demo
    await register(demo, "person:olga", "read-only")
    browser, _ = await signed_in(demo, "olga")
    for name in TABLES:
        page = await browser.get(f"/operator/{name}?lang=en")
        assert page.status_code == 200, (name, page.text)
        assert 'id="listing"' in page.text, name
    members = (await browser.get("/operator/members")).text
    assert WELFARE.number in members and "case-app" in members
    rights = (await browser.get("/operator/authorizations?lang=nl")).text
    assert "Rechtsgrond" in rights
    await browser.aclose()


async def test_a_person_without_a_role_sees_a_refusal_and_no_data(operators_demo):
    demo = operators_demo
    browser, _ = await signed_in(demo, "mallory")  # signed in, but no role on this hub
    for path in ("/operator/", "/operator/members", "/operator/dead-letters", "/operator/audit"):
        page = await browser.get(f"{path}?lang=en")
        assert page.status_code == 403, (path, page.text)
        assert page.headers["x-road-error"] == "role_required"
        assert "<html" in page.text and WELFARE.number not in page.text
    await browser.aclose()


async def test_a_visitor_not_signed_in_is_offered_the_sign_in(operators_demo):
    for path in ("/operator/", "/operator/members", "/operator/audit/verify"):
        page = await operators_demo.http.get(f"{path}?lang=de")
        assert page.status_code == 200, path
        assert 'href="/operator/login"' in page.text and WELFARE.number not in page.text


async def test_verifying_the_log_is_for_auditors_as_the_cli_is(operators_demo):
    demo = operators_demo
    await register(demo, "person:olga", "read-only")
    await register(demo, "person:audrey", "auditor")
    reader, _ = await signed_in(demo, "olga")
    audit = await reader.get("/operator/audit?lang=en")
    assert audit.status_code == 200 and 'id="verify"' not in audit.text
    refused = await reader.get("/operator/audit/verify?lang=en")
    assert refused.status_code == 403 and refused.headers["x-road-error"] == "role_required"
    auditor, _ = await signed_in(demo, "audrey")
    await demo.hub.sequencer.sign_now()
    audit = await auditor.get("/operator/audit?lang=en")
    assert 'id="tree-head"' in audit.text and 'id="verify"' in audit.text
    verified = await auditor.get("/operator/audit/verify?lang=en")
    assert verified.status_code == 200, verified.text
    assert "The log is intact" in verified.text
    await reader.aclose()
    await auditor.aclose()
