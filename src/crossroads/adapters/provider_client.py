"""Calls to providers: one pooled aiohttp session per hub process, with connect and read timeouts."""

from __future__ import annotations

import asyncio

import aiohttp

from ..domain.errors import Refusal
from ..services.ports import ProviderClient, ProviderReply

MAX_PROVIDER_BODY = 16 * 1024 * 1024


class AiohttpProviderClient(ProviderClient):
    def __init__(self, connect_timeout: float, read_timeout: float, pool_size: int) -> None:
        self._timeout = aiohttp.ClientTimeout(total=None, connect=connect_timeout, sock_read=read_timeout)
        self._pool_size = pool_size
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        # Created lazily inside the running event loop (aiohttp binds a session to its loop).
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size, limit_per_host=self._pool_size, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(timeout=self._timeout, connector=connector, auto_decompress=True)
        return self._session

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> ProviderReply:
        try:
            async with self._get_session().post(url, data=body, headers=headers, allow_redirects=False) as response:
                if response.content_length and response.content_length > MAX_PROVIDER_BODY:
                    raise Refusal("invalid_provider_response", "the provider's answer is larger than the hub accepts.")
                data = await response.content.read(MAX_PROVIDER_BODY + 1)
                if len(data) > MAX_PROVIDER_BODY:
                    raise Refusal("invalid_provider_response", "the provider's answer is larger than the hub accepts.")
                return ProviderReply(response.status, data, response.headers.get("Content-Type", ""))
        except asyncio.TimeoutError:
            raise Refusal("provider_timeout", f"the provider at {_host(url)} did not answer in time.") from None
        except aiohttp.ClientError as exc:
            raise Refusal("provider_unavailable", f"the provider at {_host(url)} could not be reached ({exc.__class__.__name__}).") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def _host(url: str) -> str:
    return url.split("/")[2] if url.count("/") >= 2 else url
