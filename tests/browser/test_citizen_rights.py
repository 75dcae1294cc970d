"""The signed-in person's rights and their simulation from their real facts, in a real browser
(Debian's Chromium, driven by Playwright) against `crossroads demo` running as its own process:
the path from the personal page to a simulation, each page in the four languages checked by
axe-core (no serious or critical violation), with screenshots."""

from __future__ import annotations

import json

import httpx
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from crossroads.demo import country, household_facts

from .chromium import PERSONS
from .test_portal_accessibility import LANGUAGES, WCAG, browser, serious, sign_in  # noqa: F401


def modest_adult(subjects: list[str]) -> str:
    """An adult without benefits whose household's income the rules grant the increased
    reimbursement by."""
    for subject in subjects:
        if country.is_child(subject) or any(household_facts.benefits(subject).values()):
            continue
        composition = household_facts.household(subject)
        size = composition["adults"] + composition["children"]
        if household_facts.income(subject)["yearly_income"] <= 25_794.82 + 4_775.50 * (size - 1):
            return subject
    raise AssertionError("the demo country has no modest household")


def test_a_person_sees_their_rights_explained_and_simulates_a_job_that_ends(
    demo_process,
    browser,  # noqa: F811
):
    base, data_dir = demo_process
    me = modest_adult(country.persons(PERSONS))
    token = json.loads((data_dir / "secrets.json").read_text())["admin_token"]
    evaluated = httpx.post(
        f"{base}/admin/rights/evaluate",
        headers={"Authorization": f"Bearer {token}"},
        json={"subject": me},
        timeout=30,
    )
    assert evaluated.status_code == 200 and evaluated.json()["decisions"], evaluated.text
    axe = Axe()
    page = browser.new_page()
    sign_in(page, base, me)
    found: dict[str, list[str]] = {}
    for language in LANGUAGES:
        page.goto(f"{base}/citizen/data?lang={language}#rights")
        decision = page.locator("#rights article.decision").first
        expect(decision).to_be_visible()
        decision.locator("summary").click()
        expect(decision.locator("table.facts-used")).to_contain_text("ISC/26/704")
        expect(decision).to_contain_text("14 July 1994")
        if violations := serious(axe.run(page, options=WCAG)):
            found[f"my rights ({language})"] = violations
        page.screenshot(path=str(data_dir / f"my-rights-{language}.png"), full_page=True)
    page.goto(f"{base}/citizen/data?lang=en#rights")
    page.click("#simulate-mine")
    expect(page.get_by_role("heading", name="What would I get if …")).to_be_visible()
    page.fill("#household_income", "90000")
    page.fill("#children_to_come", "1")
    page.check("#disability_allowance-no")
    page.click("#simulate")
    outcomes = page.locator("#outcomes")
    expect(outcomes).to_be_visible()
    reimbursement = outcomes.locator("tr", has_text="Increased reimbursement")
    expect(reimbursement.locator("td").nth(0)).to_contain_text("Yes")
    expect(reimbursement.locator("td").nth(1)).to_contain_text("No")
    expect(page.locator("#simulation-facts")).to_contain_text("typed by you (not kept)")
    expect(page.locator("#household_income")).to_have_value("90000")
    if violations := serious(axe.run(page, options=WCAG)):
        found["my simulation (en)"] = violations
    page.screenshot(path=str(data_dir / "my-simulation-en.png"), full_page=True)
    for language in ("nl", "fr", "de"):
        page.goto(f"{base}/citizen/rights/simulation?lang={language}")
        page.fill("#income_ending", "5000")
        page.click("#simulate")
        expect(page.locator("#outcomes")).to_be_visible()
        if violations := serious(axe.run(page, options=WCAG)):
            found[f"my simulation ({language})"] = violations
        page.screenshot(path=str(data_dir / f"my-simulation-{language}.png"), full_page=True)
    assert found == {}, found
    assert len(list(data_dir.glob("my-*.png"))) == 2 * len(LANGUAGES)
