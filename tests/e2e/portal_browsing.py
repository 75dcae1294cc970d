"""A browser of its own, for the portal's end-to-end tests: signing in at the demo's development
identity provider as one of its personas, and reading a page's CSRF token."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import httpx

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
SAME_ORIGIN = {"Origin": "http://hub.test", "Sec-Fetch-Site": "same-origin"}


def browser(demo) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=demo.app), base_url="http://hub.test"
    )


async def sign_in(client: httpx.AsyncClient, login: str, persona: str) -> httpx.Response:
    """Go through `login` (/portal/login, /citizen/login, /operator/login) choosing `persona` at
    the development identity provider; the hub's answer to the callback."""
    to_idp = await client.get(login)
    assert to_idp.status_code == 302, to_idp.text
    authorize = urlparse(to_idp.headers["location"])
    params = {k: v[0] for k, v in parse_qs(authorize.query).items()}
    offered = await client.get(f"{authorize.path}?{authorize.query}")
    assert f'value="{persona}"' in offered.text, offered.text
    back = await client.post(authorize.path, data={**params, "persona": persona})
    assert back.status_code == 303, back.text
    callback = urlparse(back.headers["location"])
    return await client.get(f"{callback.path}?{callback.query}")


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found[1]


def switch_link(html: str, lang: str) -> str:
    """The address the page's language switch gives for `lang`."""
    found = re.search(rf'<a href="([^"]+)" lang="{lang}" hreflang="{lang}"', html)
    assert found, "the page has no language switch"
    return found[1].replace("&amp;", "&")
