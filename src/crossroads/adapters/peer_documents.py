"""A peer hub's federation document and key history, fetched over HTTP(S) (services/federation.py
asks for them when a peer's document is missing, stale, or signed by a key not believed yet)."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from ..services.ports import PeerDocuments
from .key_history_source import MAX_BYTES as MAX_BYTES
from .key_history_source import HttpKeyHistory

FEDERATION_PATH = "/.well-known/crossroads/federation"


class HttpPeerDocuments(PeerDocuments):
    def __init__(self, timeout: float = 5.0, tls: ssl.SSLContext | None = None) -> None:
        self._timeout = timeout
        self._tls = tls

    async def document(self, url: str) -> str:
        return await asyncio.to_thread(self._get, url.rstrip("/") + FEDERATION_PATH)

    async def key_history(self, url: str) -> dict[str, Any]:
        return await asyncio.to_thread(HttpKeyHistory(url, self._timeout, self._tls).fetch)

    def _get(self, url: str) -> str:
        import urllib.request

        with urllib.request.urlopen(url, timeout=self._timeout, context=self._tls) as answer:
            body = answer.read(MAX_BYTES + 1)
        if len(body) > MAX_BYTES:
            raise ValueError(f"{url} answered more than {MAX_BYTES} bytes")
        return str(body.decode("ascii").strip())
