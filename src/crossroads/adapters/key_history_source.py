"""The hub's key history fetched over HTTP(S), for a witness (services/hub_key_trust.py)."""

from __future__ import annotations

import json
import ssl
import urllib.request
from typing import Any

from ..services.ports import KeyHistorySource

KEY_HISTORY_PATH = "/.well-known/crossroads/key-history"
MAX_BYTES = 1024 * 1024  # a key a year for centuries is a few hundred kilobytes


class HttpKeyHistory(KeyHistorySource):
    def __init__(
        self, hub_url: str, timeout: float = 5.0, tls: ssl.SSLContext | None = None
    ) -> None:
        self.url = hub_url.rstrip("/") + KEY_HISTORY_PATH
        self._timeout = timeout
        self._tls = tls

    def fetch(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url, timeout=self._timeout, context=self._tls) as answer:
            body = answer.read(MAX_BYTES + 1)
        if len(body) > MAX_BYTES:
            raise ValueError(f"{self.url} answered more than {MAX_BYTES} bytes")
        data = json.loads(body)
        if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
            raise ValueError(f"{self.url} is not a key history")
        return data
