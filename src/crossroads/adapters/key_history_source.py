"""The hub's key history fetched over HTTP(S), for a witness (services/hub_key_trust.py)."""

from __future__ import annotations

import ssl
from typing import Any

from ..domain import unique_keys
from ..services.ports import KeyHistorySource
from .bounded_get import get_bounded, get_bounded_blocking

KEY_HISTORY_PATH = "/.well-known/crossroads/key-history"
MAX_BYTES = 1024 * 1024  # a key a year for centuries is a few hundred kilobytes


class HttpKeyHistory(KeyHistorySource):
    def __init__(
        self, hub_url: str, timeout: float = 5.0, tls: ssl.SSLContext | None = None
    ) -> None:
        """`timeout`: the whole fetch, connecting to last byte (adapters/bounded_get.py)."""
        self.url = hub_url.rstrip("/") + KEY_HISTORY_PATH
        self._timeout = timeout
        self._tls = tls

    def fetch(self) -> dict[str, Any]:
        return self._read(get_bounded_blocking(self.url, self._timeout, MAX_BYTES, self._tls))

    async def fetch_async(self) -> dict[str, Any]:
        """`fetch` on the caller's event loop, holding no thread."""
        return self._read(await get_bounded(self.url, self._timeout, MAX_BYTES, self._tls))

    def _read(self, body: bytes) -> dict[str, Any]:
        data = unique_keys.loads(body)  # DuplicateKey, a ValueError, for a key named twice
        if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
            raise ValueError(f"{self.url} is not a key history")
        return data
