"""The portal in a real browser (Debian's Chromium, driven by Playwright) against `crossroads demo`
running as its own process: every page in every language has no serious or critical WCAG
violation as axe-core finds them (the copy bundled in axe-playwright-python, injected by the
test: nothing comes from a CDN), asks nothing of another host, and is used with the keyboard.
A screenshot of each page in each language is written under the test's temporary folder."""

from __future__ import annotations

import json
from urllib.parse import urlparse

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect, sync_playwright

from crossroads.demo import country
from crossroads.demo.seed import example_subject

from ..unit.test_translations import DEVELOPMENT_ONLY
from .chromium import CHROMIUM, CHROMIUM_ARGS, PERSONS
from .test_citizen_page import ask_about

LANGUAGES = ("en", "nl", "fr", "de")
PAGES = {
    "home": "/portal/",
    "services": "/portal/services",
    "authorizations": "/portal/authorizations",
    "mutations": "/portal/mutations",
    "declarations": "/portal/declarations",
    "statistics": "/statistics/",
    "dimona": "/portal/declarations/dimona",
    "zone": "/portal/declarations/dimona/zones/00024",
    "not-found": "/portal/declarations/nothing",
    "rights": "/portal/rights?household_income=12000&adults=1&children=2&integration_income=on",
    "citizen": "/citizen/",
    "signin": "/portal/signin",
}
WCAG = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


def serious(results) -> list[str]:
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.fixture
def browser():
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def only_the_hub(base: str, elsewhere: list[str]):
    hub = urlparse(base).netloc

    def route(request_route) -> None:
        if urlparse(request_route.request.url).netloc == hub:
            request_route.continue_()
        else:
            elsewhere.append(request_route.request.url)
            request_route.abort()

    return route


def publish_statistics(base: str, data_dir) -> None:
    """The operator extracts the demo's records and publishes the default tables, so that the
    statistics page has its charts and tables to check."""
    token = json.loads((data_dir / "secrets.json").read_text())["admin_token"]
    for step in ("extract", "publish"):
        answer = httpx.post(
            f"{base}/admin/statistics/{step}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=120,
        )
        assert answer.status_code == 200, answer.text


def sign_in(page, base: str, subject: str) -> None:
    page.goto(f"{base}/citizen/?lang=en")
    page.click("#sign-in")
    page.fill("#subject", subject)
    page.click("#sign-in-as")
    expect(page.locator("#consultations")).to_be_visible()


def test_every_page_in_every_language_passes_axe(shared_demo_process, browser, tmp_path):
    base, data_dir = shared_demo_process
    me = example_subject(country.persons(PERSONS))
    ask_about(base, data_dir, me)
    publish_statistics(base, data_dir)
    axe = Axe()
    page = browser.new_page()
    elsewhere: list[str] = []
    page.route("**/*", only_the_hub(base, elsewhere))
    found: dict[str, list[str]] = {}
    pages = dict(PAGES)
    for language in LANGUAGES:
        for name, path in pages.items():
            answer = page.goto(f"{base}{path}?lang={language}")
            assert answer is not None and answer.status in (200, 404), (path, answer)
            expect(page.locator("html")).to_have_attribute("lang", language)
            expect(page.locator("link[rel=stylesheet]")).to_have_count(1)
            if name == "statistics":  # published above: charts drawn, in this language
                expect(page.locator("figure.chart svg").first).to_be_visible()
            violations = serious(axe.run(page, options=WCAG))
            if violations:
                found[f"{name} ({language})"] = violations
            page.screenshot(path=str(tmp_path / f"{name}-{language}.png"), full_page=True)
    # The citizen's list, signed in, in every language; and the development identity provider.
    sign_in(page, base, me)
    for language in LANGUAGES:
        page.goto(f"{base}/citizen/?lang={language}")
        expect(page.locator("#consultations")).to_be_visible()
        violations = serious(axe.run(page, options=WCAG))
        if violations:
            found[f"citizen, signed in ({language})"] = violations
        page.screenshot(path=str(tmp_path / f"citizen-signed-in-{language}.png"), full_page=True)
    page.click("#sign-out")
    page.click("#sign-in")
    authorize = page.url
    for language in LANGUAGES:
        page.goto(f"{authorize}&lang={language}")
        expect(page.locator("html")).to_have_attribute("lang", language)
        expect(page.get_by_role("alert")).to_contain_text(DEVELOPMENT_ONLY[language])
        violations = serious(axe.run(page, options=WCAG))
        if violations:
            found[f"development identity provider ({language})"] = violations
        page.screenshot(path=str(tmp_path / f"dev-idp-{language}.png"), full_page=True)
    assert found == {}, found
    assert elsewhere == [], elsewhere
    assert len(list(tmp_path.glob("*.png"))) == len(LANGUAGES) * (len(pages) + 2)


def test_the_keyboard_reaches_the_skip_link_the_switch_and_the_navigation(
    shared_demo_process, browser
):
    base, _ = shared_demo_process
    page = browser.new_page()
    page.goto(f"{base}/portal/services?lang=en")
    # The first Tab lands on the skip link, which then shows, with a visible focus mark.
    page.keyboard.press("Tab")
    skip = page.locator("a.skip-link")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    box = skip.bounding_box()
    assert box is not None and box["width"] > 50 and box["height"] > 20
    assert skip.evaluate("e => getComputedStyle(e).outlineStyle") != "none"
    # Enter follows it: the next Tab starts in the main content, past the header.
    page.keyboard.press("Enter")
    assert page.url.endswith("#main")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('main') !== null")
    # From the top, Tab reaches the language switch; Enter on "Nederlands" switches the page.
    page.goto(f"{base}/portal/services?lang=en")
    for _ in range(12):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.textContent.trim()")
        style = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert style != "none", focused  # every focused control shows it
        if focused == "Nederlands":
            break
    else:
        pytest.fail("the language switch is not reachable by Tab")
    page.keyboard.press("Enter")
    expect(page.locator("html")).to_have_attribute("lang", "nl")
    expect(page.get_by_role("heading", level=1)).to_have_text("Diensten")
    # The choice is kept, and the navigation says which page is the current one.
    page.goto(f"{base}/portal/mutations")
    expect(page.locator("html")).to_have_attribute("lang", "nl")
    current = page.locator(".site-nav a[aria-current=page]")
    expect(current).to_have_text("Mutaties")
