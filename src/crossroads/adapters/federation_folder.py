"""The operator's federation choices as files in DATA_DIR/federation, written by
`crossroads federation offer` and `crossroads federation pin`:

- `DATA_DIR/federation/offer.json`: `{"members": [numbers], "services": [codes]}`, what this
  hub offers its peers;
- `DATA_DIR/federation/peers/INSTANCE.json`: `{"instance", "url", "jwks", "institution",
  "identifier_authority"}`, one per pinned peer.

Each file is written whole beside the old one and renamed over it (as the key folder does), and
read again when its modification time changes (looked at once a second at most), so that every
hub process sees a change within a second or two, without a restart.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from ..domain.federation import Offer, PeerPin, check_instance
from ..services.ports import FederationConfig


class FederationFolder(FederationConfig):
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._offer: tuple[float, Offer] | None = None
        self._peers: tuple[tuple[tuple[str, float], ...], dict[str, PeerPin]] | None = None
        self._looked_at = float("-inf")

    @property
    def offer_path(self) -> Path:
        return self.directory / "offer.json"

    @property
    def peers_dir(self) -> Path:
        return self.directory / "peers"

    def offer(self) -> Offer:
        stamp = _mtime(self.offer_path)
        if self._offer is not None and self._offer[0] == stamp:
            return self._offer[1]
        data = _read(self.offer_path) or {}
        offer = Offer(
            members=frozenset(map(str, data.get("members", []))),
            services=frozenset(map(str, data.get("services", []))),
        )
        self._offer = (stamp, offer)
        return offer

    def peers(self) -> dict[str, PeerPin]:
        # Asked at every exchange (is this provider a peer?): the folder is listed once a second.
        now = time.monotonic()
        if self._peers is not None and now - self._looked_at < 1.0:
            return self._peers[1]
        self._looked_at = now
        files = sorted(self.peers_dir.glob("*.json")) if self.peers_dir.is_dir() else []
        stamps = tuple((f.name, _mtime(f)) for f in files)
        if self._peers is not None and self._peers[0] == stamps:
            return self._peers[1]
        pins = {}
        for path in files:
            data = _read(path)
            if data is None:
                continue
            pin = PeerPin(
                instance=data["instance"],
                url=str(data["url"]).rstrip("/"),
                jwks=data["jwks"],
                institution=data.get("institution"),
                identifier_authority=data.get("identifier_authority"),
            )
            pins[pin.instance] = pin
        self._peers = (stamps, pins)
        return pins

    def write_offer(self, offer: Offer) -> None:
        _write(
            self.offer_path,
            {"members": sorted(offer.members), "services": sorted(offer.services)},
        )

    def write_pin(self, pin: PeerPin) -> Path:
        path = self.peers_dir / f"{check_instance(pin.instance)}.json"
        _write(
            path,
            {
                "instance": pin.instance,
                "url": pin.url.rstrip("/"),
                "jwks": pin.jwks,
                "institution": pin.institution,
                "identifier_authority": pin.identifier_authority,
            },
        )
        return path


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime_ns / 1e9
    except FileNotFoundError:
        return 0.0


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    return data if isinstance(data, dict) else None


def _write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data, indent=2, sort_keys=True))
    os.replace(temporary, path)
