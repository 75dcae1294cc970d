"""The portal's pages for people in a real browser (Debian's Chromium, driven by Playwright)
against `crossroads demo` running as its own process: each audience's main path (a citizen
reads their data; an employer declares a DIMONA IN; a payroll office uploads a batch file and
follows it to its acknowledgement), and axe-core on each of their pages in each language, with a
screenshot of each written under the test's temporary folder (`<name>-<lang>.png`)."""

from __future__ import annotations

import re
from datetime import date

import orjson
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from crossroads.demo import country, employers

from .test_portal_accessibility import LANGUAGES, WCAG, browser, only_the_hub, serious

__all__ = ["browser"]  # the fixture, shared with the accessibility test
EMPLOYER = employers.EMPLOYERS[0][0]


def sign_in_as(page, base: str, audience_link: str, persona: str) -> None:
    """From the portal's sign-in page, through the development identity provider's persona."""
    page.goto(f"{base}/portal/signin?lang=en")
    page.click(audience_link)
    expect(page.get_by_role("alert")).to_contain_text("DEVELOPMENT IDENTITY PROVIDER")
    page.click(f"#persona-{persona}")


def declare_in(page, base: str, worker: str) -> str:
    """Declare a DIMONA IN from the form; the declaration's page address."""
    page.goto(f"{base}/portal/employer/dimona/in?lang=en")
    page.fill("#inss", worker)
    page.fill("#start", date.today().isoformat())
    page.select_option("#worker_type", "OTH")
    page.click("#declare")
    expect(page.locator("#status")).to_contain_text("accepted")
    return page.url


def test_each_audience_goes_its_main_path(shared_demo_process, browser, tmp_path):
    base, _ = shared_demo_process
    # A citizen signs in and reads their data, as the sources hold it.
    me = country.persons(3)[2]
    citizen = browser.new_context().new_page()
    sign_in_as(citizen, base, "#sign-in-citizen", "citizen-3")
    expect(citizen.locator("#consultations")).to_be_visible()
    citizen.click("#my-data")
    expect(citizen.get_by_role("heading", level=1)).to_have_text("My data")
    expect(citizen.locator("section#person\\.identity")).to_contain_text(
        country.identity(me)["name"]
    )
    expect(citizen.locator("section#health\\.affiliation")).to_contain_text("Health insurance")
    expect(citizen.locator(".refused")).to_have_count(0)
    # The look-ups are in their list of who consulted their data.
    citizen.goto(f"{base}/citizen/?lang=en")
    expect(citizen.locator("#consultations")).to_contain_text("Crossroads portal")
    # An employer's representative declares a DIMONA IN; a mistake is shown beside its field.
    employer = browser.new_context().new_page()
    sign_in_as(employer, base, "#sign-in-employer", "employer")
    expect(employer.locator("form.visitor")).to_contain_text(EMPLOYER)
    employer.goto(f"{base}/portal/employer/dimona/in?lang=en")
    employer.fill("#inss", "12345678901")
    employer.click("#declare")
    expect(employer.locator("#inss-error")).to_contain_text("not a valid national number")
    expect(employer.locator("#start-error")).to_contain_text("required")
    # Tab through the date field, its calendar button included: each stop shows its focus.
    employer.focus("#start")
    while employer.evaluate("document.activeElement.id") == "start":
        outline = employer.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none", "a stop in the date field shows no focus"
        employer.keyboard.press("Tab")
    declare_in(employer, base, country.persons(80)[-1])
    employer.click("text=My declarations")
    expect(employer.locator("#declarations tbody tr").first).to_contain_text("DimonaIn")
    employer.click("#portal-sign-out")
    expect(employer.locator("form.visitor")).to_have_count(0)
    # A payroll office's clerk uploads a batch file and follows it to its acknowledgement.
    office = browser.new_context().new_page()
    sign_in_as(office, base, "#sign-in-employer", "payroll-office")
    office.goto(f"{base}/portal/employer/batches?lang=en")
    forms = [
        employers.dimona_in(s, EMPLOYER, date.today(), "OTH") for s in country.persons(80)[-4:-1]
    ]
    office.set_input_files(
        "#file-dimona",
        {"name": "forms.json", "mimeType": "application/json", "buffer": orjson.dumps(forms)},
    )
    office.click("#upload-dimona")
    expect(office.locator("#acknowledgement")).to_be_visible(timeout=30_000)
    expect(office.locator("#batch-declarations tbody tr")).to_have_count(3)
    # The acknowledged file's page, in each language: axe-core, and a screenshot.
    axe, found = Axe(), {}
    for language in LANGUAGES:
        office.goto(f"{office.url.split('?')[0]}?lang={language}")
        violations = serious(axe.run(office, options=WCAG))
        if violations:
            found[language] = violations
        office.screenshot(path=str(tmp_path / f"batch-{language}.png"), full_page=True)
    assert found == {}, found


def test_every_page_for_people_in_every_language_passes_axe(shared_demo_process, browser, tmp_path):
    base, _ = shared_demo_process
    axe = Axe()
    found: dict[str, list[str]] = {}
    elsewhere: list[str] = []

    def check(page, name: str) -> None:
        for language in LANGUAGES:
            path = re.sub(r"[?&]lang=\w+", "", page.url.removeprefix(base).split("#")[0])
            joiner = "&" if "?" in path else "?"
            page.goto(f"{base}{path}{joiner}lang={language}")
            expect(page.locator("html")).to_have_attribute("lang", language)
            violations = serious(axe.run(page, options=WCAG))
            if violations:
                found[f"{name} ({language})"] = violations
            page.screenshot(path=str(tmp_path / f"{name}-{language}.png"), full_page=True)

    citizen = browser.new_context().new_page()
    citizen.route("**/*", only_the_hub(base, elsewhere))
    sign_in_as(citizen, base, "#sign-in-citizen", "citizen-1")
    citizen.goto(f"{base}/citizen/data?lang=en")
    # A report of wrong data, from the form under the address: then the page lists it.
    citizen.click("section#person\\.address summary")
    citizen.fill("#report-person\\.address", "The house number is 12, not 21.")
    citizen.click("#send-report-person\\.address")
    expect(citizen.locator("#reported")).to_be_visible()
    expect(citizen.locator("#my-reports")).to_contain_text("The house number is 12")
    check(citizen, "citizen-data")
    employer = browser.new_context().new_page()
    employer.route("**/*", only_the_hub(base, elsewhere))
    employer.goto(f"{base}/portal/signin?lang=en")
    employer.click("#sign-in-employer")
    found_idp = serious(axe.run(employer, options=WCAG))
    if found_idp:
        found["development identity provider, personas"] = found_idp
    employer.click("#persona-employer")
    pages = {
        "employer": "/portal/employer/",
        "employer-declarations": "/portal/employer/declarations",
        "dimona-in": "/portal/employer/dimona/in",
        "dimona-out": "/portal/employer/dimona/out",
        "batches": "/portal/employer/batches",
    }
    for name, path in pages.items():
        employer.goto(f"{base}{path}")
        check(employer, name)
    declared = declare_in(employer, base, country.persons(80)[-5])
    employer.goto(declared)
    check(employer, "declaration")
    # A form the server sent back with its mistakes beside the fields.
    employer.goto(f"{base}/portal/employer/dimona/in")
    employer.fill("#inss", "12345678901")
    employer.click("#declare")
    for language in LANGUAGES:
        employer.goto(f"{base}/portal/employer/dimona/in?lang={language}")
        employer.fill("#inss", "12345678901")
        employer.click("#declare")
        expect(employer.locator("#error-summary")).to_be_visible()
        violations = serious(axe.run(employer, options=WCAG))
        if violations:
            found[f"dimona-in with mistakes ({language})"] = violations
        employer.screenshot(path=str(tmp_path / f"dimona-in-mistakes-{language}.png"))
    assert found == {}, found
    assert elsewhere == [], elsewhere
    assert len(list(tmp_path.glob("*.png"))) == len(LANGUAGES) * (len(pages) + 3)
