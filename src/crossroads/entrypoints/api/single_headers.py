"""Refuse a request that repeats a header the hub reads as one value, before any layer reads it.

A repeated `Authorization`, `X-Road-Client`, `X-GovStack-Client` or purpose header was accepted
with the first value used and the others dropped: what a proxy, a log or the provider reads may
then differ from what the hub checked (the root of request smuggling and header confusion). HTTP
allows a repeated field only where its value is a list (RFC 9110 §5.3); none of these is one, so
a repeat is refused (400 `malformed_request`, naming the header), never resolved by a guess.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from ...domain.errors import Refusal
from .xroad import refusal_before_routing

# Every request header the hub or a layer in front of its routes reads as a single value.
SINGLE_VALUED = frozenset(
    {
        b"host",
        b"authorization",
        b"content-type",
        b"content-length",
        b"origin",
        b"sec-fetch-site",
        b"x-csrf-token",
        b"x-request-id",
        b"x-road-id",
        b"x-road-client",
        b"x-road-userid",
        b"x-road-issue",
        b"x-road-service",
        b"x-road-request-id",
        b"x-govstack-client",
        b"x-user-id",
        b"x-crossroads-purpose",
        b"x-crossroads-capacity",
        b"x-crossroads-authorization",
        b"x-crossroads-provider",
        b"x-crossroads-signature",
    }
)


class SingleHeaders:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            repeated = _repeated(scope["headers"])
            if repeated is not None:
                refusal = Refusal(
                    "malformed_request",
                    f"the request carries the {repeated} header more than once; send it once.",
                    repeated,
                )
                response = await refusal_before_routing(Request(scope, receive), refusal)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _repeated(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The first single-valued header named twice (ASGI names are lower case), else None."""
    seen: set[bytes] = set()
    for name, _ in headers:
        if name in SINGLE_VALUED:
            if name in seen:
                return name.decode("latin-1")
            seen.add(name)
    return None
