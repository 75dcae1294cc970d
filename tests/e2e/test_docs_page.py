"""The API documentation page works on a closed network: every asset comes from the hub."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin, urlparse

import pytest

pytestmark = pytest.mark.anyio


class _References(HTMLParser):
    """Every address the page makes the browser load or link to."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [value for name, value in attrs if name in ("src", "href") and value]


async def test_the_docs_page_names_no_other_host_and_the_hub_serves_all_it_names(demo):
    page = await demo.http.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    parser = _References()
    parser.feed(page.text)
    assert len(parser.found) >= 3  # the script, the style sheet, the icon
    base = str(demo.http.base_url)
    for reference in parser.found:
        address = urlparse(urljoin(base + "/docs", reference))
        assert address.netloc == urlparse(base).netloc, reference
        served = await demo.http.get(address.path)
        assert served.status_code == 200 and served.content, reference
    assert "http://" not in page.text and "https://" not in page.text and "//cdn" not in page.text
    assert '"validatorUrl": null' in page.text  # nor does Swagger UI send the document to its validator
    # The OpenAPI document the page loads is the hub's own.
    assert (await demo.http.get("/openapi.json")).json()["info"]["title"] == "Crossroads hub"
