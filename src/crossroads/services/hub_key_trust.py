"""The hub's keys a witness believes: those it was given (pinned, obtained out of band), and each
later key the hub's key history endorses from them (crossroads.key_history), learnt when a head
names a key not believed yet. A key the hub merely lists is never believed."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from ..key_history import follow_key_history, signing_kid
from .ports import KeyHistorySource

log = logging.getLogger("crossroads.witness")
# A head naming an unknown key makes the witness ask the hub for its history; heads with made-up
# key ids must not make it ask at every submission.
MIN_INTERVAL_SECONDS = 30.0


class HubKeyTrust:
    def __init__(
        self,
        pinned: dict[str, Any],
        history: KeyHistorySource | None = None,
        *,
        min_interval_seconds: float = MIN_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._trusted = follow_key_history(pinned, {"keys": []})
        self._history = history
        self._min_interval = min_interval_seconds
        self._clock = clock
        self._asked_at: float | None = None

    def jwks(self) -> dict[str, Any]:
        return self._trusted

    def jwks_for(self, signature: object) -> dict[str, Any]:
        """The keys believed, after following the hub's key history first when `signature`
        names a key not believed (at most once every `min_interval_seconds`)."""
        kid = signing_kid(signature) if isinstance(signature, str) else None
        known = {k.get("kid") for k in self._trusted["keys"]}
        if kid is None or kid in known or self._history is None:
            return self._trusted
        now = self._clock()
        if self._asked_at is not None and now - self._asked_at < self._min_interval:
            return self._trusted
        self._asked_at = now
        try:
            history = self._history.fetch()
        except Exception as exc:  # the hub's history unreachable: the head is refused, as before
            log.warning("the hub's key history could not be fetched: %s", exc)
            return self._trusted
        learned = follow_key_history(self._trusted, history)
        for key in learned["keys"]:
            if key["kid"] not in known:
                log.info("the hub's key %s is endorsed by a key trusted: now trusted", key["kid"])
        self._trusted = learned
        return self._trusted
