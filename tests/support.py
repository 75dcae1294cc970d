"""Test support: the demo's authentic sources reached in-process, and helpers to get tokens."""

from __future__ import annotations

import httpx

from crossroads.adapters.keys import make_client_assertion
from crossroads.domain.errors import Refusal
from crossroads.services.ports import ProviderClient, ProviderReply

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class AsgiProviderClient(ProviderClient):
    """Delivers the hub's requests to provider ASGI apps by host:port, without sockets.

    The providers lie outside the hub's process in production; here they are the real provider-kit
    apps, reached through httpx's ASGI transport. An address with no app is "unavailable".
    """

    def __init__(self, apps: dict[str, object]) -> None:
        self._clients = {
            netloc: httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url=f"http://{netloc}"
            )
            for netloc, app in apps.items()
        }

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> ProviderReply:
        netloc = url.split("/")[2]
        client = self._clients.get(netloc)
        if client is None:
            raise Refusal(
                "provider_unavailable", "the provider could not be reached (connection failed)."
            )
        response = await client.post(url, content=body, headers=headers)
        return ProviderReply(
            response.status_code, response.content, response.headers.get("content-type", "")
        )

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()


class LateApp:
    """An ASGI app that forwards to one set after it was handed out (the hub, to itself)."""

    def __init__(self) -> None:
        self.app = None

    async def __call__(self, scope, receive, send) -> None:
        await self.app(scope, receive, send)


class AppTransport(httpx.AsyncBaseTransport):
    """Reaches an ASGI app built after the client that uses it (the hub's own development
    identity provider, which the hub's OIDC client talks to)."""

    def __init__(self) -> None:
        self.app = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.app is None:
            raise httpx.ConnectError(
                "the app behind this transport is not built yet", request=request
            )
        return await httpx.ASGITransport(app=self.app).handle_async_request(request)


def token_form(client_id: str, private_jwk: dict, audience: str, **claims) -> dict:
    return {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": make_client_assertion(client_id, audience, private_jwk),
    }
