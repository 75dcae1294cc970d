"""The citizen's page in a real browser (Debian's Chromium, driven by Playwright), against
`crossroads demo` running as its own process with its development identity provider."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from playwright.sync_api import expect, sync_playwright

from crossroads.adapters.keys import make_client_assertion
from crossroads.demo import country
from crossroads.demo.seed import client_key_path, example_subject

from ..support import ASSERTION_TYPE
from .chromium import CHROMIUM, CHROMIUM_ARGS, PERSONS


def access_token(base: str, data_dir: Path, client: str) -> str:
    key = json.loads(client_key_path(data_dir, client).read_text())
    return httpx.post(
        f"{base}/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": make_client_assertion(client, f"{base}/oauth/token", key),
        },
    ).json()["access_token"]


def ask_about(base: str, data_dir: Path, subject: str) -> None:
    token = access_token(base, data_dir, f"{country.BY_KEY['welfare'].number}:case-app")
    answer = httpx.post(
        f"{base}/v1/exchange/person.identity",
        headers={"Authorization": f"Bearer {token}"},
        json={"subject": subject, "purpose": "SOCIAL_INTEGRATION"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text


def publish_move(base: str, data_dir: Path, subject: str) -> None:
    """The national register publishes a change of address about the subject."""
    token = access_token(base, data_dir, f"{country.BY_KEY['nr'].number}:register-app")
    answer = httpx.post(
        f"{base}/v1/mutations/person.address-change",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "id": "browser-move-1",
            "subject": subject,
            "effective_date": "2026-01-05",
            "payload": {"street": "Rue Haute 1", "postcode": "5000", "city": "Namur"},
        },
        timeout=10,
    )
    assert answer.status_code == 201 and answer.json()["recipients"] >= 1, answer.text


def test_a_citizen_signs_in_and_sees_who_consulted_them(demo_process):
    base, data_dir = demo_process
    me = example_subject(country.persons(PERSONS))
    ask_about(base, data_dir, me)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{base}/citizen/")
            expect(page.get_by_role("heading", name="Who consulted my data")).to_be_visible()
            page.click("#sign-in")
            expect(page.get_by_role("alert")).to_contain_text("DEVELOPMENT IDENTITY PROVIDER")
            page.fill("#subject", me)
            page.click("#sign-in-as")
            table = page.locator("#consultations")
            expect(table).to_be_visible()
            row = table.locator("tbody tr").first
            expect(row).to_contain_text(country.BY_KEY["welfare"].name)
            expect(row).to_contain_text("SOCIAL_INTEGRATION")
            expect(row).to_contain_text("allowed")
            # The change the register publishes about me: its name, and each institution it was
            # sent to with the purpose and the authorization it receives it under.
            publish_move(base, data_dir, me)
            page.reload()
            published = (
                table.locator("tbody tr", has_text="published this change")
                .filter(has_text="Change of main residence")
                .first
            )
            expect(published).to_contain_text(country.BY_KEY["nr"].name)
            to_welfare = published.locator("li.recipient", has_text=country.BY_KEY["welfare"].name)
            expect(to_welfare).to_contain_text("SOCIAL_INTEGRATION")
            expect(to_welfare).to_contain_text("ISC/25/401")
            expect(to_welfare).to_contain_text("Law of 26 May 2002")
            page.screenshot(path=str(data_dir / "citizen.png"), full_page=True)
            # Signing out is a form's POST from the page; the address itself signs no one out.
            expect(page.locator("form[method=post] button#sign-out")).to_be_visible()
            assert page.request.get(f"{base}/citizen/logout").status == 405
            page.reload()
            expect(table).to_be_visible()  # still signed in
            page.click("#sign-out")
            expect(page.locator("#sign-in")).to_be_visible()
        finally:
            browser.close()
