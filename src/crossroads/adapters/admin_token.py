"""The static admin token: kept to bootstrap a hub (and for older automation), optional, and
rotatable without restarting a process.

When the token lives in a file (the one `CROSSROADS_ADMIN_TOKEN_FILE` names, else the generated
`data_dir/secrets.json`), every hub process reads the file again when its modification time
changes, looked at most once a second: writing a new token there rotates it in every process that
reads that file within a second. A token given in `CROSSROADS_ADMIN_TOKEN` itself is fixed for
the life of the process. Disabled (`CROSSROADS_ADMIN_TOKEN_ENABLED=false`), no token is accepted.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from pathlib import Path

log = logging.getLogger("crossroads.admin_token")
MIN_LENGTH = 16


class AdminToken:
    def __init__(
        self,
        fixed: str | None = None,
        path: Path | None = None,
        json_key: str | None = None,
        enabled: bool = True,
        recheck_seconds: float = 1.0,
    ) -> None:
        """`fixed`: the token, when it was given directly; else read from `path` (the whole
        file, or the value under `json_key` of a JSON object), its modification time looked at
        most every `recheck_seconds`."""
        self.enabled = enabled
        self._fixed = fixed
        self._path = path
        self._json_key = json_key
        self._mtime: int | None = None
        self._checked = 0.0
        self._recheck = recheck_seconds
        self._current: str | None = fixed
        if fixed is None and path is not None:
            self._reload(force=True)

    def matches(self, presented: str) -> bool:
        """Whether `presented` is the admin token now (constant time)."""
        if not self.enabled:
            return False
        self._reload()
        current = self._current
        return current is not None and hmac.compare_digest(presented.encode(), current.encode())

    def _reload(self, force: bool = False) -> None:
        if self._fixed is not None or self._path is None:
            return
        now = time.monotonic()
        if not force and now - self._checked < self._recheck:
            return
        self._checked = now
        try:
            mtime = self._path.stat().st_mtime_ns
            if mtime == self._mtime:
                return
            text = self._path.read_text()
            value = json.loads(text)[self._json_key] if self._json_key else text.rstrip("\r\n")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # Keep the token in force: a file being rewritten is read again within a second.
            log.error("cannot read the admin token from %s: %s", self._path, exc)
            return
        if not isinstance(value, str) or len(value) < MIN_LENGTH:
            log.error("the admin token in %s is shorter than %d characters", self._path, MIN_LENGTH)
            return
        if self._mtime is not None:
            log.info("admin token rotated: read again from %s", self._path)
        self._mtime, self._current = mtime, value
