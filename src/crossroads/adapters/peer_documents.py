"""A peer hub's federation document and key history, fetched over HTTP(S) (services/federation.py
asks for them when a peer's document is missing, stale, or signed by a key not believed yet)."""

from __future__ import annotations

import ssl
from typing import Any

from ..services.ports import PeerDocuments
from .bounded_get import get_bounded
from .key_history_source import MAX_BYTES as MAX_BYTES
from .key_history_source import HttpKeyHistory

FEDERATION_PATH = "/.well-known/crossroads/federation"


class HttpPeerDocuments(PeerDocuments):
    def __init__(self, timeout: float = 5.0, tls: ssl.SSLContext | None = None) -> None:
        """`timeout`: each fetch whole, from connecting to the last byte (a peer trickling its
        answer is given up then: adapters/bounded_get.py)."""
        self._timeout = timeout
        self._tls = tls

    async def document(self, url: str) -> str:
        body = await get_bounded(
            url.rstrip("/") + FEDERATION_PATH, self._timeout, MAX_BYTES, self._tls
        )
        return str(body.decode("ascii").strip())

    async def key_history(self, url: str) -> dict[str, Any]:
        return await HttpKeyHistory(url, self._timeout, self._tls).fetch_async()
