"""How the client commands (`token`, `ask`, `declare`, `mailbox`) find and call a hub.

The hub's address is, in this order: `--hub` (or CROSSROADS_HUB), else the address `crossroads
demo` recorded in its data folder (`hub.json`), else http://127.0.0.1:8000. So the commands the
demo prints need no `--hub`, whichever port it was started on. A hub that cannot be reached is one
line naming the address tried, where it came from and what to change, not a traceback.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from .output import fail

DEFAULT_HUB = "http://127.0.0.1:8000"
HUB_RECORD = "hub.json"  # in the demo's data folder: {"url": "http://127.0.0.1:PORT"}
DEFAULT_DATA_DIR = Path("var/demo")


def record_hub_address(data_dir: Path, url: str, federation_instance: str | None = None) -> None:
    """Written by `crossroads demo`, read by the client commands given the same --data-dir;
    with the instance the demo gave its hub in-process (`--second-hub`), which no setting holds,
    for `crossroads federation show`."""
    data_dir.mkdir(parents=True, exist_ok=True)
    record = {
        "url": url,
        **({"federation_instance": federation_instance} if federation_instance else {}),
    }
    (data_dir / HUB_RECORD).write_text(json.dumps(record) + "\n")


def recorded_instance(data_dir: Path) -> str | None:
    """The federation instance `crossroads demo` recorded in `data_dir`, if any."""
    try:
        return json.loads((data_dir / HUB_RECORD).read_text()).get("federation_instance")
    except (OSError, ValueError, AttributeError):
        return None


@dataclass(frozen=True)
class HubAddress:
    url: str
    source: str  # where the address came from, said when it cannot be reached

    @classmethod
    def of(cls, given: str | None, data_dir: Path) -> HubAddress:
        if given:
            return cls(given.rstrip("/"), "from --hub or CROSSROADS_HUB")
        record = data_dir / HUB_RECORD
        try:
            return cls(
                json.loads(record.read_text())["url"].rstrip("/"),
                f"recorded by `crossroads demo` in {record}",
            )
        except FileNotFoundError:
            return cls(DEFAULT_HUB, "the default")
        except (ValueError, KeyError, TypeError, AttributeError):
            fail(f"{record} does not hold a hub's address: remove it, or pass --hub URL", 2)


class HubClient:
    """HTTP calls to one hub; a failure to reach it ends the command with one line."""

    def __init__(self, address: HubAddress, timeout: float = 30) -> None:
        self.address = address
        self.url = address.url
        self._http = httpx.Client(timeout=timeout)

    def request(self, method: str, path: str, **options: Any) -> httpx.Response:
        try:
            return self._http.request(method, f"{self.url}{path}", **options)
        except (httpx.TransportError, httpx.InvalidURL) as exc:
            fail(
                f"cannot reach the hub at {self.url} ({self.address.source}): {_reason(exc)}. "
                "Start it (`crossroads demo` or `crossroads serve`), or name it with --hub URL "
                "(or CROSSROADS_HUB)."
            )

    def get(self, path: str, **options: Any) -> httpx.Response:
        return self.request("GET", path, **options)

    def post(self, path: str, **options: Any) -> httpx.Response:
        return self.request("POST", path, **options)

    def json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            fail(
                f"{self.url} answered {response.status_code} with something other than JSON "
                f"(is it a Crossroads hub?): {response.text[:200]!r}"
            )

    def token(self, client: str, key: Path | None, data_dir: Path) -> str:
        """An access token for `client`, obtained with a client assertion signed by its key."""
        from ...adapters.keys import client_key_path, token_request

        path = key or client_key_path(data_dir, client)
        if not path.exists():
            fail(f"no private key at {path}: pass --key FILE, or --data-dir the demo's folder", 2)
        # The assertion's audience is the token endpoint as the hub names it (RFC 8414 metadata),
        # which differs from the URL used here when the hub sits behind a proxy or a load balancer.
        metadata = self.get("/.well-known/oauth-authorization-server")
        audience = (
            self.json(metadata).get("token_endpoint") if metadata.status_code == 200 else None
        )
        form = token_request(
            client, audience or f"{self.url}/oauth/token", json.loads(path.read_text())
        )
        response = self.post("/oauth/token", data=form)
        if response.status_code != 200:
            fail(f"token refused ({response.status_code}): {response.text}")
        return self.json(response)["access_token"]


def _reason(exc: Exception) -> str:
    if isinstance(exc, httpx.ConnectError):
        return f"nothing answers there ({exc})" if str(exc) else "nothing answers there"
    if isinstance(exc, httpx.TimeoutException):
        return "no answer in time"
    return str(exc) or type(exc).__name__
