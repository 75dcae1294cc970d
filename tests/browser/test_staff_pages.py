"""The operator's and the institutions' staff pages in a real browser (Debian's Chromium, driven
by Playwright) against `crossroads demo` running as its own process: each audience's main path
signed in at the development identity provider, every page in every language without a serious or
critical WCAG violation (axe-core, the copy bundled in axe-playwright-python), nothing asked of
another host, and a screenshot of each page in each language under the test's temporary folder
(`operator-<page>-<lang>.png`, `institution-<page>-<lang>.png`)."""

from __future__ import annotations

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect, sync_playwright

from crossroads.demo import country
from crossroads.entrypoints.api.institution_pages import PAGES as INSTITUTION_PAGES
from crossroads.entrypoints.api.pages import OPERATOR_PAGES

from .chromium import CHROMIUM, CHROMIUM_ARGS, PERSONS
from .test_citizen_page import access_token, ask_about
from .test_portal_accessibility import LANGUAGES, WCAG, only_the_hub, serious

WELFARE = country.BY_KEY["welfare"].number


@pytest.fixture
def browser():
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def some_activity(base: str, data_dir) -> None:
    """Exchanges answered and one refused, so that the charts have bars to draw."""
    persons = country.persons(PERSONS)
    held = [
        line["subject"]
        for line in country.directory_lines(persons)
        if line["institution"] == WELFARE and line.get("phase") != "provisional"
    ]
    for subject in held[:3]:
        ask_about(base, data_dir, subject)
    token = access_token(base, data_dir, f"{WELFARE}:case-app")
    stranger = next(p for p in persons if p not in held)
    refused = httpx.post(
        f"{base}/v1/exchange/person.identity",
        headers={"Authorization": f"Bearer {token}"},
        json={"subject": stranger, "purpose": "SOCIAL_INTEGRATION"},
        timeout=10,
    )
    assert refused.status_code >= 400


def page_name(href: str) -> str:
    """A page's name in its screenshot's: the last part of its address, or `overview`."""
    return "overview" if href.endswith("/") else href.rsplit("/", 1)[-1]


def check_every_language(page, base, pages, prefix, axe, tmp_path, found) -> None:
    for language in LANGUAGES:
        for name, path in pages.items():
            answer = page.goto(f"{base}{path}?lang={language}")
            assert answer is not None and answer.status == 200, (path, answer)
            expect(page.locator("html")).to_have_attribute("lang", language)
            violations = serious(axe.run(page, options=WCAG))
            if violations:
                found[f"{prefix} {name} ({language})"] = violations
            page.screenshot(path=str(tmp_path / f"{prefix}-{name}-{language}.png"), full_page=True)


def test_the_operator_signs_in_reads_every_page_and_signs_out(
    shared_demo_process, browser, tmp_path
):
    base, data_dir = shared_demo_process
    some_activity(base, data_dir)
    axe = Axe()
    page = browser.new_page()
    elsewhere: list[str] = []
    page.route("**/*", only_the_hub(base, elsewhere))
    page.goto(f"{base}/operator/?lang=en")
    expect(page.locator("#operator-sign-in")).to_be_visible()  # signed out: the invitation
    page.click("#operator-sign-in")
    page.click("#persona-operator")
    # The overview: health, the registry's counts and the activity charts, drawn on the server.
    expect(page.locator("#health")).to_be_visible()
    expect(page.locator("section.activity-chart svg").first).to_be_visible()
    page.click("a[href='/operator/authorizations']")
    expect(page.locator("#listing")).to_contain_text("SOCIAL_INTEGRATION")
    page.click("a[href='/operator/audit']")
    expect(page.locator("#tree-head")).to_be_visible()
    page.click("#verify")
    expect(page.locator("#verdict")).to_have_class("allowed")
    found: dict[str, list[str]] = {}
    pages = {page_name(href): href for href, _ in OPERATOR_PAGES}
    pages["verify"] = "/operator/audit/verify"
    check_every_language(page, base, pages, "operator", axe, tmp_path, found)
    page.goto(f"{base}/operator/?lang=en")
    page.click("#operator-sign-out")
    expect(page).to_have_url(f"{base}/portal/")
    assert page.goto(f"{base}/operator/members").status == 200
    expect(page.locator("#operator-sign-in")).to_be_visible()
    assert found == {}, found
    assert elsewhere == [], elsewhere
    assert len(list(tmp_path.glob("operator-*.png"))) == len(LANGUAGES) * len(pages)


def test_an_institution_manager_looks_up_integrates_and_ends_a_person(
    shared_demo_process, browser, tmp_path
):
    base, _ = shared_demo_process
    persons = country.persons(PERSONS)
    lines = country.directory_lines(persons)
    held = {line["subject"] for line in lines if line["institution"] == WELFARE}
    stranger = next(p for p in persons if p not in held)
    axe = Axe()
    page = browser.new_page()
    elsewhere: list[str] = []
    page.route("**/*", only_the_hub(base, elsewhere))
    page.goto(f"{base}/portal/institution/?lang=en")
    page.click("#institution-sign-in")
    page.click("#sign-in-institution")
    page.click("#persona-institution-manager")
    expect(page.locator("h1")).to_contain_text(country.BY_KEY["welfare"].name)
    page.click("a[href='/portal/institution/persons']")
    page.fill("#subject", stranger)
    page.click("#search button[type=submit]")
    expect(page.locator("#nothing")).to_be_visible()
    page.select_option("#capacity", "SOCIAL_ASSISTANCE")
    page.click("#integrate button[type=submit]")
    expect(page.locator("#done")).to_be_visible()
    expect(page.locator("#entries")).to_contain_text("SOCIAL_ASSISTANCE")
    found: dict[str, list[str]] = {}
    violations = serious(axe.run(page, options=WCAG))  # the forms: every field labelled
    if violations:
        found["institution persons, with entries"] = violations
    page.screenshot(path=str(tmp_path / "institution-persons-found-en.png"), full_page=True)
    page.click("#entries button[type=submit]")
    expect(page.locator("#done")).to_contain_text("ended")
    pages = {page_name(href): href for href, _ in INSTITUTION_PAGES}
    check_every_language(page, base, pages, "institution", axe, tmp_path, found)
    assert found == {}, found
    assert elsewhere == [], elsewhere
