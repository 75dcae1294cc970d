"""The hub's own authentic sources, asked in the same process: a ProviderClient that hands a
request addressed to a source the hub itself serves (its declarations source, mounted at
ISSUER/sources/declarations) straight to that source's ASGI app, and every other request to the
HTTP client it wraps.

Only the citizen's data page asks through it (bootstrap.py gives it to the exchange service of
PersonalData alone): the request is the same bytes with the same detached signature, which the
source verifies as it would over HTTP, and the exchange around it (authorization, minimising,
the answer's schema, the audit record under the person's keyed hash) is the same code. What it
saves is the loop back through the network: a connection from the hub to itself, the request
parsed again by the HTTP server and passed through every middleware of the hub's app (sessions,
access log, metrics), which the profile of `crossroads bench portal` showed costing the page as
much CPU as the citizen's page itself.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..domain.errors import Refusal
from ..services.ports import ProviderClient, ProviderReply
from .provider_client import MAX_PROVIDER_BODY, too_large


class InProcessSources(ProviderClient):
    def __init__(
        self, fallback: ProviderClient, timeout_seconds: float, max_bytes: int = MAX_PROVIDER_BODY
    ) -> None:
        """`fallback`: the client for every other address; `timeout_seconds`: how long a source
        may take to answer, as the HTTP client's read timeout bounds a provider; `max_bytes`:
        the largest answer taken, as the HTTP client's."""
        self._fallback = fallback
        self._timeout = timeout_seconds
        self._max_bytes = max_bytes
        self._sources: dict[str, Any] = {}

    def mount(self, base_url: str, app: Any) -> None:
        """Answer requests under `base_url` (an address the registry names for one of the hub's
        own sources) with the ASGI `app` that serves it."""
        self._sources[base_url.rstrip("/")] = app

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> ProviderReply:
        for base, app in self._sources.items():
            if url.startswith(base + "/"):
                try:
                    async with asyncio.timeout(self._timeout):
                        return await _call(app, url[len(base) :], body, headers, self._max_bytes)
                except TimeoutError:
                    raise Refusal(
                        "provider_timeout", "the provider did not answer in time."
                    ) from None
        return await self._fallback.post(url, body, headers)

    async def close(self) -> None:
        await self._fallback.close()


async def _call(
    app: Any, path: str, body: bytes, headers: dict[str, str], max_bytes: int
) -> ProviderReply:
    """One POST through the ASGI app, its answer collected."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": None,
        "server": None,
        "state": {},
    }
    sent = False

    async def receive() -> dict:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    status = 500
    content_type = ""
    chunks: list[bytes] = []

    async def send(message: dict) -> None:
        nonlocal status, content_type
        if message["type"] == "http.response.start":
            status = message["status"]
            for name, value in message.get("headers", []):
                if name.lower() == b"content-type":
                    content_type = value.decode("latin-1")
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if sum(map(len, chunks)) > max_bytes:
                raise too_large(max_bytes)

    await app(scope, receive, send)
    return ProviderReply(status, b"".join(chunks), content_type)
