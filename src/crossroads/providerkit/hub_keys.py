"""The hub's public keys as a provider holds them: fetched from the hub's JWKS, and fetched again
when the hub signs with a key not seen yet, so that the hub's key rotation needs no restart.

The hub publishes its next key before it signs with it (docs/operations.md): a provider that
refreshes every `refresh_seconds` (5 minutes) knows it in advance. One that does not, or that
missed it, refreshes the moment a request names an unknown `kid`, at most once every
`min_interval_seconds` (30 s), so that requests signed with made-up key ids cannot make it hammer
the hub. A refresh that fails keeps the keys it had and is logged.

A fetch reads at most `max_bytes` (1 MiB: a key a year for centuries is a few hundred kilobytes)
and gives up `timeout` seconds after it began, however the server sends its answer: urllib's
timeout bounds each socket operation only, and a body read whole (`json.load`) is as large as the
server makes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import logging
import socket
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from joserfc.jwk import KeySet

from ..domain import unique_keys

log = logging.getLogger("crossroads.providerkit")
REFRESH_SECONDS = 300.0
MIN_INTERVAL_SECONDS = 30.0
MAX_JWKS_BYTES = 1024 * 1024


class HubKeySet:
    """The hub's public keys, as published at /.well-known/jwks.json.

    `HubKeySet(jwks)` holds the keys given, and never changes them; with `url` (or a `fetch`
    callable returning a JWKS), it fetches them again as the module docstring says. `ProviderApp`
    calls `update_for(signature)` before it verifies each request."""

    def __init__(
        self,
        jwks: dict[str, Any] | None = None,
        *,
        url: str | None = None,
        fetch: Callable[[], dict[str, Any]] | None = None,
        refresh_seconds: float = REFRESH_SECONDS,
        min_interval_seconds: float = MIN_INTERVAL_SECONDS,
        timeout: float = 5.0,
        max_bytes: int = MAX_JWKS_BYTES,
    ) -> None:
        if fetch is None and url is not None:
            fetch = lambda: _get_json(url, timeout, max_bytes)  # noqa: E731
        self._fetch = fetch
        self._url = url
        self.refresh_seconds = refresh_seconds
        self.min_interval_seconds = min_interval_seconds
        self._guard = threading.Lock()
        self._lock: asyncio.Lock | None = None
        self._background: set[asyncio.Task] = set()
        if jwks is None:
            if fetch is None:
                raise ValueError("HubKeySet needs a JWKS, a url or a fetch")
            jwks = fetch()
        self._set(jwks, time.monotonic())
        # The bound is on fetches a request causes: the first unknown key is fetched at once.
        self._tried_at = float("-inf")

    @classmethod
    def from_url(cls, url: str, timeout: float = 5.0, **options: Any) -> HubKeySet:
        """Fetch the hub's JWKS now (an error if the hub cannot be reached), and again later."""
        return cls(url=url, timeout=timeout, **options)

    def _set(self, jwks: dict[str, Any], now: float) -> None:
        self.key_set = KeySet.import_key_set(jwks)
        self.kids = frozenset(k.kid for k in self.key_set.keys if k.kid)
        self._fetched_at = now

    def _due(self, kid: str | None, now: float) -> str | None:
        """Why a refresh is due now ("unknown" kid, or "stale" keys), or None."""
        if self._fetch is None or now - self._tried_at < self.min_interval_seconds:
            return None
        if kid is not None and kid not in self.kids:
            return "unknown"
        if now - self._fetched_at >= self.refresh_seconds:
            return "stale"
        return None

    def refresh(self) -> bool:
        """Fetch the JWKS now (blocking); False, with the old keys kept, when that fails."""
        if self._fetch is None:
            return False
        with self._guard:
            self._tried_at = time.monotonic()
            try:
                jwks = self._fetch()
                self._set(jwks, time.monotonic())
            except Exception as exc:
                log.warning(
                    "the hub's JWKS could not be fetched again (%s); keeping the keys known", exc
                )
                return False
        return True

    async def update_for(self, signature: str | None) -> None:
        """Before verifying `signature`: fetch the keys again if it names a key not known (and
        wait for them), or in the background if they are older than `refresh_seconds`."""
        if self._fetch is None:
            return
        kid = _kid(signature) if signature else None
        if self._lock is None:
            self._lock = asyncio.Lock()
        if kid is not None and kid not in self.kids:
            # Through the lock even when no fetch is due: one may be under way for this key.
            await self._refresh_once(kid)
        elif self._due(kid, time.monotonic()) == "stale":
            task = asyncio.create_task(self._refresh_once(kid))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _refresh_once(self, kid: str | None) -> None:
        assert self._lock is not None
        async with self._lock:  # requests arriving together with a new kid share one fetch
            if self._due(kid, time.monotonic()) is not None:
                await asyncio.to_thread(self.refresh)


def _get_json(url: str, timeout: float, max_bytes: int) -> dict[str, Any]:
    """The JWKS at `url`: TimeoutError once `timeout` seconds have passed, whatever the server
    sends and however slowly (a watchdog shuts the connection down: urllib's timeout bounds each
    socket read only, and a status line or headers sent a byte at a time went on for hours);
    ValueError past `max_bytes`, or when it is not a JWKS naming each key once."""
    sockets: list[socket.socket] = []
    expired = threading.Event()

    def cut() -> None:
        expired.set()
        for opened in sockets:
            with contextlib.suppress(OSError):  # closed already
                opened.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(timeout, cut)
    watchdog.daemon = True
    watchdog.start()
    try:
        body = bytearray()
        opener = urllib.request.build_opener(_Watched(sockets), _WatchedTLS(sockets))
        with opener.open(url, timeout=timeout) as response:
            while chunk := response.read1(64 * 1024):  # what has arrived, not a buffer's worth
                body += chunk
                if len(body) > max_bytes:
                    raise ValueError(f"{url} answered more than {max_bytes} bytes")
        if expired.is_set():  # a connection shut down mid-body reads as its end
            raise TimeoutError(f"{url} did not answer within {timeout:g} s")
    except (OSError, http.client.HTTPException):
        if expired.is_set():
            raise TimeoutError(f"{url} did not answer within {timeout:g} s") from None
        raise
    finally:
        watchdog.cancel()
    data = unique_keys.loads(bytes(body))
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise ValueError(f"{url} is not a JWKS")
    return data


def _recording(
    sockets: list[socket.socket], kind: type[http.client.HTTPConnection]
) -> type[http.client.HTTPConnection]:
    """`kind`, keeping each socket it connects where the watchdog finds it (urllib lets go of the
    connection once the headers are read; the socket reads the body on)."""

    class Recorded(kind):  # type: ignore[valid-type, misc]
        def connect(self) -> None:
            super().connect()
            sockets.append(self.sock)

    return Recorded


class _Watched(urllib.request.HTTPHandler):
    """urllib's handler, its connections' sockets recorded (`_recording`)."""

    def __init__(self, sockets: list[socket.socket]) -> None:
        super().__init__()
        self._sockets = sockets

    def do_open(self, http_class: Any, req: Any, **options: Any) -> Any:
        return super().do_open(_recording(self._sockets, http_class), req, **options)


class _WatchedTLS(urllib.request.HTTPSHandler):
    def __init__(self, sockets: list[socket.socket]) -> None:
        super().__init__()
        self._sockets = sockets

    def do_open(self, http_class: Any, req: Any, **options: Any) -> Any:
        return super().do_open(_recording(self._sockets, http_class), req, **options)


def _kid(signature: str) -> str | None:
    try:
        header = unique_keys.loads_b64url(signature.split(".")[0])
    except (ValueError, RecursionError):
        return None
    kid = header.get("kid") if isinstance(header, dict) else None
    return kid if isinstance(kid, str) else None
