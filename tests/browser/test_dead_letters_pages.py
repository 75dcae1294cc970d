"""The dead letters' pages in a real browser (Debian's Chromium, driven by Playwright) against
`crossroads demo` running as its own process, holding more dead letters than a page lists: the
operator's and the institution's pages count them all, list the oldest and say so, in every
language without a serious or critical WCAG violation (axe-core), and lead to the next page."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import date

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from crossroads.adapters.sql.store import open_store
from crossroads.demo import country
from crossroads.domain.mutations import Mutation, Subscription
from crossroads.entrypoints.api.institution_pages import DEAD_LETTERS_SHOWN as INSTITUTION_SHOWN
from crossroads.entrypoints.api.operator_pages import DEAD_LETTERS_SHOWN
from crossroads.entrypoints.cli.stores import STORE_FILE
from crossroads.templates.i18n import number

from .test_portal_accessibility import LANGUAGES, WCAG, only_the_hub, serious
from .test_staff_pages import browser  # noqa: F401 (the fixture)

WELFARE = country.BY_KEY["welfare"].number
NR = country.BY_KEY["nr"].number
DEAD = max(DEAD_LETTERS_SHOWN, INSTITUTION_SHOWN) + 5


def set_aside(data_dir, count: int) -> None:
    """`count` messages to a welfare application's webhook, each failed for good, written to the
    running demo's store as its push workers would leave them."""

    async def write() -> None:
        store = await open_store(f"sqlite:///{data_dir / STORE_FILE}")
        try:
            mutations = store.mutations
            await mutations.add_subscription(
                Subscription(
                    "browser-dead",
                    WELFARE,
                    "case-app",
                    "person.address",
                    "A1",
                    "push",
                    "https://x/h",
                )
            )
            await mutations.publish_many(
                [
                    (
                        Mutation(
                            f"dead-{n}",
                            "person.address",
                            "1",
                            NR,
                            "79122244457",
                            b"k" * 16,
                            date(2026, 5, 1),
                            {"city": "Namur"},
                            1,
                        ),
                        b"d",
                        [("browser-dead", b"{}")],
                    )
                    for n in range(count)
                ]
            )
            due = await mutations.due_pushes("browser-dead", 0, count)
            await mutations.failed([d.seq for d in due], "provider_unavailable: refused", 0, 1)
        finally:
            await store.close()

    # In a thread of its own: Playwright's synchronous API runs an event loop in this one.
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, write()).result()


def checked(language: str) -> dict | None:
    """What axe-core reads: the whole page in English; in the other languages the page but the
    table's thousand rows, the same markup whatever the language (axe on them took half a minute
    a page)."""
    return None if language == "en" else {"exclude": [["tbody"]]}


def read_in_every_language(page, url: str, table: str, shown: int, tmp_path, found) -> None:
    """The page at `url` in each language: its `table` captioned with the count of all, `shown`
    rows listed, the notice that says so, no serious violation (into `found`), a screenshot; then
    its next page, which lists the rest, and the link back to the first."""
    axe = Axe()
    for language in LANGUAGES:
        page.goto(f"{url}?lang={language}")
        expect(page.locator(f"{table} caption")).to_contain_text(f"({number(DEAD, language)})")
        expect(page.locator("#shown")).to_be_visible()
        assert page.locator(f"{table} tbody tr").count() == shown
        violations = serious(axe.run(page, context=checked(language), options=WCAG))
        if violations:
            found[f"{url} ({language})"] = violations
        name = url.rsplit("/", 1)[-1]
        page.screenshot(path=str(tmp_path / f"{name}-{language}.png"))
    # The next page lists the rest, and leads back to the first.
    page.click("#next-page")
    assert page.locator(f"{table} tbody tr").count() == DEAD - shown
    expect(page.locator("#next-page")).to_have_count(0)
    violations = serious(axe.run(page, options=WCAG))
    if violations:
        found[f"{page.url}"] = violations
    page.click("#first-page")
    assert page.locator(f"{table} tbody tr").count() == shown


def test_dead_letters_past_a_page_are_counted_and_said_in_every_language(
    demo_process,
    browser,  # noqa: F811 (the fixture)
    tmp_path,
):
    base, data_dir = demo_process
    set_aside(data_dir, DEAD)
    page = browser.new_page()
    elsewhere: list[str] = []
    page.route("**/*", only_the_hub(base, elsewhere))
    page.goto(f"{base}/operator/?lang=en")
    page.click("#operator-sign-in")
    page.click("#persona-operator")
    expect(page.locator("#counts")).to_contain_text(f"Dead letters: {number(DEAD, 'en')}")
    found: dict[str, list[str]] = {}
    read_in_every_language(
        page, f"{base}/operator/dead-letters", "#listing", DEAD_LETTERS_SHOWN, tmp_path, found
    )
    page.goto(f"{base}/operator/?lang=en")
    page.click("#operator-sign-out")
    page.goto(f"{base}/portal/institution/?lang=en")
    page.click("#institution-sign-in")
    page.click("#sign-in-institution")
    page.click("#persona-institution-manager")
    read_in_every_language(
        page,
        f"{base}/portal/institution/subscriptions",
        "#dead-letters",
        INSTITUTION_SHOWN,
        tmp_path,
        found,
    )
    assert found == {}, found
    assert elsewhere == [], elsewhere
