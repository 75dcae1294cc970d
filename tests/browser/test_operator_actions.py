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
