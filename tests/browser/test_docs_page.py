"""The API documentation page in a real browser with every other host out of reach: Swagger UI
comes from the hub itself, so it still lists the operations on a closed network."""

from __future__ import annotations

from urllib.parse import urlparse

from playwright.sync_api import expect, sync_playwright

from .chromium import CHROMIUM, CHROMIUM_ARGS


def test_the_docs_page_lists_the_operations_with_other_hosts_blocked(demo_process):
    base, _ = demo_process
    hub = urlparse(base).netloc
    elsewhere: list[str] = []

    def only_the_hub(route) -> None:
        if urlparse(route.request.url).netloc == hub:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.route("**/*", only_the_hub)
            failed: list[str] = []
            page.on("requestfailed", lambda request: failed.append(request.url))
            page.goto(f"{base}/docs")
            operations = page.locator(".opblock")
            expect(operations.first).to_be_visible(timeout=20_000)
            assert operations.count() > 10
            expect(page.locator(".opblock-summary-path", has_text="/v1/exchange/{service}").first).to_be_visible()
            expect(page.locator(".info .title")).to_contain_text("Crossroads hub")
            assert elsewhere == [] and failed == []
        finally:
            browser.close()
