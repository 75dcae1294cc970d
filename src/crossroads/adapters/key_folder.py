"""The hub's signing keys as files in a folder (DATA_DIR/keys), each with its place in the key's
life: *next* (published, not signing yet), *current* (signs), *previous* (replaced, still
verifying, its private part kept until retired) and *retired* (the private part destroyed, the
public key kept and published forever).

One file per key, `STAMP-KID.jwk.json`, mode 600, oldest first by name:
`{"jwk", "created_at", "activates_at", "retired_at", "endorsement"}`. A key is current from its
`activates_at` on, until a later one's; `activates_at` null means "when `keys activate` says".
`endorsement` is the key transition statement (key_history.py) by the key that was current when
this one was made; the first key has none. A file that is a bare JWK (written before the key's
life was recorded) counts as activated, in the order of the names.

Every change is a whole file written beside the old one and renamed over it: a process reading
the folder meanwhile sees the old file or the new one, never half of one. Several hub processes
(on one machine, or several sharing the folder) read it again every few seconds (HubKeys).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from joserfc import jws
from joserfc.jwk import OKPKey

from ..key_history import TRANSITION_TYPE, public_part
from ..providerkit.signatures import SIGNATURE_REGISTRY

NEXT, CURRENT, PREVIOUS, RETIRED = "next", "current", "previous", "retired"


class NoHubKey(RuntimeError):
    """The folder holds no signing key: this is not (yet) a hub's data folder."""


class KeyLifecycleError(RuntimeError):
    """A change to the keys' life that is not allowed; the message says why."""


@dataclass(frozen=True)
class StoredKey:
    path: Path
    jwk: dict[str, Any]  # private while the key may sign, public once retired
    created_at: float
    activates_at: float | None
    retired_at: float | None
    endorsement: str | None

    @property
    def kid(self) -> str:
        return str(self.jwk["kid"])

    def as_file(self) -> dict[str, Any]:
        return {
            "jwk": self.jwk,
            "created_at": self.created_at,
            "activates_at": self.activates_at,
            "retired_at": self.retired_at,
            "endorsement": self.endorsement,
        }


def states(keys: list[StoredKey], now: float) -> dict[str, str]:
    """kid -> state at `now`. The current key is the activated one activated last."""
    activated = [
        (k.activates_at, order, k)
        for order, k in enumerate(keys)
        if k.retired_at is None and k.activates_at is not None and k.activates_at <= now
    ]
    current = max(activated, key=lambda found: found[:2], default=(0, 0, None))[2]
    activated_keys = [k for _, _, k in activated]
    found = {}
    for key in keys:
        if key.retired_at is not None:
            found[key.kid] = RETIRED
        elif key is current:
            found[key.kid] = CURRENT
        elif key in activated_keys:
            found[key.kid] = PREVIOUS
        else:
            found[key.kid] = NEXT
    return found


class KeyFolder:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def read(self) -> list[StoredKey]:
        """Every key, oldest first; NoHubKey when there is none."""
        files = sorted(self.directory.glob("*.jwk.json")) if self.directory.is_dir() else []
        if not files:
            raise NoHubKey(f"no hub signing key in {self.directory}")
        return [_parse(path, json.loads(path.read_text())) for path in files]

    def create_first(self) -> StoredKey:
        """The hub's first key, current at once; only in a folder that holds none."""
        if self.directory.is_dir() and any(self.directory.glob("*.jwk.json")):
            raise KeyLifecycleError(f"{self.directory} holds keys already")
        now = time.time()
        return self._write_new(_new_key(), now, activates_at=now, endorsement=None)

    def publish_next(self, activates_at: float | None = None) -> StoredKey:
        """A new key, published from now on and endorsed by the current one; it signs from
        `activates_at` (None: when `activate` is called)."""
        keys = self.read()
        now = time.time()
        current = _one(keys, now, CURRENT, "no current key to endorse a new one")
        key = _new_key()
        statement = {
            "typ": TRANSITION_TYPE,
            "kid": key.kid,
            "jwk": public_part(key.as_dict(private=False)),
            "endorsed_by": current.kid,
            "iat": int(now),
        }
        endorsement = jws.serialize_compact(
            {"alg": "EdDSA", "kid": current.kid, "typ": TRANSITION_TYPE},
            json.dumps(statement, sort_keys=True).encode(),
            OKPKey.import_key(current.jwk),
            registry=SIGNATURE_REGISTRY,
        )
        return self._write_new(key, now, activates_at=activates_at, endorsement=endorsement)

    def activate(self, kid: str | None = None) -> StoredKey:
        """Make a next key (`kid`, or the oldest next one) current now."""
        keys = self.read()
        now = time.time()
        found = states(keys, now)
        chosen = [k for k in keys if found[k.kid] == NEXT and kid in (None, k.kid)]
        if not chosen:
            raise KeyLifecycleError(
                f"no next key {kid!r} to activate"
                if kid
                else "no next key to activate: publish one first with `crossroads keys rotate`"
            )
        return self._save(replace(chosen[0], activates_at=now))

    def retire(self, kid: str | None = None) -> list[StoredKey]:
        """Destroy the private part of a previous key (`kid`, or every previous key); its public
        part stays, published for verification."""
        keys = self.read()
        now = time.time()
        found = states(keys, now)
        if kid is not None and found.get(kid) not in (PREVIOUS, None):
            raise KeyLifecycleError(f"the key {kid} is {found[kid]}: only a previous key retires")
        chosen = [k for k in keys if found[k.kid] == PREVIOUS and kid in (None, k.kid)]
        if not chosen:
            raise KeyLifecycleError(f"no previous key {kid or ''} to retire")
        return [self._save(replace(k, jwk=public_part(k.jwk), retired_at=now)) for k in chosen]

    def _write_new(
        self, key: OKPKey, now: float, activates_at: float | None, endorsement: str | None
    ) -> StoredKey:
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f"{int(now * 1e6) % 10**6:06d}"
        path = self.directory / f"{stamp}-{key.kid[:8]}.jwk.json"
        stored = StoredKey(path, key.as_dict(private=True), now, activates_at, None, endorsement)
        return self._save(stored)

    def _save(self, key: StoredKey) -> StoredKey:
        self.directory.mkdir(parents=True, exist_ok=True)
        temporary = key.path.with_name(f".{key.path.name}.{uuid.uuid4().hex}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(json.dumps(key.as_file()))
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, key.path)
        return key


def _new_key() -> OKPKey:
    key = OKPKey.generate_key("Ed25519", parameters={"use": "sig", "alg": "EdDSA"})
    return OKPKey.import_key(
        key.as_dict(private=True),
        parameters={"kid": key.thumbprint(), "use": "sig", "alg": "EdDSA"},
    )


def _one(keys: list[StoredKey], now: float, state: str, missing: str) -> StoredKey:
    found = states(keys, now)
    for key in keys:
        if found[key.kid] == state:
            return key
    raise KeyLifecycleError(missing)


def _parse(path: Path, data: dict[str, Any]) -> StoredKey:
    if "kty" in data:  # a bare JWK: activated, in the order of the names (see the docstring)
        return StoredKey(path, data, 0.0, 0.0, None, None)
    return StoredKey(
        path,
        data["jwk"],
        float(data["created_at"]),
        None if data.get("activates_at") is None else float(data["activates_at"]),
        None if data.get("retired_at") is None else float(data["retired_at"]),
        data.get("endorsement"),
    )
