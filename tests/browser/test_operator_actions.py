"""The operator's forms in a real browser (Debian's Chromium, driven by Playwright) against
`crossroads demo` as its own process: the operator adds a member, is shown the error beside the
field it concerns in each of the four languages (axe-core: no serious or critical violation on the
form with its error), corrects it, and sees the member in the table; then grants it an integration
right and withdraws it again. Screenshots: `operator-form-error-<lang>.png` and
`operator-form-done.png` under the test's temporary folder."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect, sync_playwright

from crossroads.demo import country

from .chromium import CHROMIUM, CHROMIUM_ARGS
from .test_portal_accessibility import LANGUAGES, WCAG, only_the_hub, serious

NEW_MEMBER = country.enterprise_number(2_000_555)
NEW_EMPLOYER = country.enterprise_number(3_000_555)
ERROR_IN = {
    "en": "Fill in this field.",
    "nl": "Vul dit veld in.",
    "fr": "Remplissez ce champ.",
    "de": "Füllen Sie dieses Feld aus.",
}


@pytest.fixture
def browser():
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def test_the_operator_adds_a_member_after_correcting_the_form_in_every_language(
    shared_demo_process, browser, tmp_path
):
    base, _ = shared_demo_process
    axe = Axe()
    page = browser.new_page()
    elsewhere: list[str] = []
    page.route("**/*", only_the_hub(base, elsewhere))
    page.goto(f"{base}/operator/members?lang=en")
    page.click("#operator-sign-in")
    page.click("#persona-operator")
    found: dict[str, list[str]] = {}
    for language in LANGUAGES:
        page.goto(f"{base}/operator/members?lang={language}")
        page.fill("#add-member-enterprise_number", NEW_MEMBER)
        page.fill("#add-member-name", "")  # forgotten: the form comes back with the error
        page.click("#add-member button[type=submit]")
        error = page.locator("#add-member-name-error")
        expect(error).to_have_text(ERROR_IN[language])
        expect(page.locator("#add-member-name")).to_have_attribute("aria-invalid", "true")
        expect(page.locator("#add-member-enterprise_number")).to_have_value(NEW_MEMBER)
        violations = serious(axe.run(page, options=WCAG))
        if violations:
            found[f"members form with an error ({language})"] = violations
        page.screenshot(path=str(tmp_path / f"operator-form-error-{language}.png"), full_page=True)
    page.fill("#add-member-name", "Pension Fund of Demoville")
    page.click("#add-member button[type=submit]")
    expect(page.locator("#done")).to_be_visible()
    expect(page.locator("#listing")).to_contain_text("Pension Fund of Demoville")
    page.screenshot(path=str(tmp_path / "operator-form-done.png"), full_page=True)
    page.click("a[href='/operator/integration-rights']")
    page.select_option("#add-integration-right-institution", NEW_MEMBER)
    page.select_option("#add-integration-right-capacity", "SOCIAL_ASSISTANCE")
    page.fill("#add-integration-right-legal_basis", "Law of 1 April 2026")
    page.click("#add-integration-right button[type=submit]")
    expect(page.locator("#done")).to_be_visible()
    expect(page.locator("#listing")).to_contain_text("Law of 1 April 2026")
    page.select_option("#withdraw-integration-right-right", f"{NEW_MEMBER}/SOCIAL_ASSISTANCE")
    page.click("#withdraw-integration-right button[type=submit]")
    expect(page.locator("#done")).to_be_visible()
    expect(page.locator("#listing")).not_to_contain_text("Law of 1 April 2026")
    page.click("a[href='/operator/proposals']")
    expect(page.locator("#four-eyes")).to_be_visible()
    assert found == {}, found
    assert elsewhere == [], elsewhere


def test_the_operator_registers_a_capacity_a_routed_service_an_employer_and_an_operator(
    shared_demo_process, browser, tmp_path
):
    """The forms of the services', capacities', routed providers', employers', mandates' and
    operators' pages in the browser: the capacity form sent back with its error in each language
    (axe-core on it), then one change on each page, each page with its forms checked by axe-core
    (`operator-<page>-form.png`)."""
    base, _ = shared_demo_process
    axe = Axe()
    page = browser.new_page()
    elsewhere: list[str] = []
    page.route("**/*", only_the_hub(base, elsewhere))
    page.goto(f"{base}/operator/capacities?lang=en")
    page.click("#operator-sign-in")
    page.click("#persona-operator")
    found: dict[str, list[str]] = {}

    def check(name: str) -> None:
        violations = serious(axe.run(page, options=WCAG))
        if violations:
            found[name] = violations
        page.screenshot(path=str(tmp_path / f"operator-{name}-form.png"), full_page=True)

    for language in LANGUAGES:
        page.goto(f"{base}/operator/capacities?lang={language}")
        page.fill("#add-capacity-name", "Receives a pension")
        page.click("#add-capacity button[type=submit]")
        expect(page.locator("#add-capacity-code-error")).to_have_text(ERROR_IN[language])
        expect(page.locator("#add-capacity-name")).to_have_value("Receives a pension")
        check(f"capacities-error-{language}")
    page.goto(f"{base}/operator/capacities?lang=en")
    page.fill("#add-capacity-code", "PENSIONER")
    page.fill("#add-capacity-name", "Receives a pension")
    page.click("#add-capacity button[type=submit]")
    expect(page.locator("#done")).to_be_visible()
    expect(page.locator("#listing")).to_contain_text("PENSIONER")
    page.click("a[href='/operator/services']")
    page.fill("#add-service-code", "pension.fund")
    page.fill("#add-service-name", "Pension fund")
    page.select_option("#add-service-routed_capacity", "PENSIONER")
    page.fill("#add-service-response_fields", "fund, since")
    page.click("#add-service button[type=submit]")
    expect(page.locator("#done")).to_be_visible()
    expect(page.locator("#listing")).to_contain_text("pension.fund")
    check("services")
    page.click("a[href='/operator/routed-providers']")
    expect(page.locator("#add-routed-provider-service")).to_contain_text("pension.fund")
    check("routed-providers")
    page.click("a[href='/operator/employers']")
    page.fill("#add-employer-company_id", NEW_EMPLOYER)
    page.fill("#add-employer-name", "Bakery of Demoville")
    page.click("#add-employer button[type=submit]")
    expect(page.locator("#done")).to_be_visible()
    check("employers")
    page.click("a[href='/operator/mandates']")
    page.select_option("#add-mandate-office", country.BY_KEY["payroll"].number)
    page.fill("#add-mandate-employer", NEW_EMPLOYER)
    page.fill("#add-mandate-valid_from", "2026-01-01")
    page.click("#add-mandate button[type=submit]")
    expect(page.locator("#done")).to_be_visible()
    expect(page.locator("#listing")).to_contain_text(NEW_EMPLOYER)
    check("mandates")
    page.click("a[href='/operator/operators']")
    page.fill("#add-operator-operator_id", "person:olga")
    page.fill("#add-operator-roles", "read-only")
    page.click("#add-operator button[type=submit]")
    expect(page.locator("#done")).to_be_visible()
    expect(page.locator("#listing")).to_contain_text("person:olga")
    page.select_option("#remove-operator-operator_id", "person:olga")
    page.click("#remove-operator button[type=submit]")
    expect(page.locator("#listing")).not_to_contain_text("person:olga")
    check("operators")
    assert found == {}, found
    assert elsewhere == [], elsewhere
