"""The provider kit follows the hub's key rotation: a request signed with a key it has not seen
makes it fetch the hub's JWKS again (once, however many such requests arrive together), made-up
key ids make it fetch at most once per interval, and keys older than `refresh_seconds` are
fetched again in the background."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from crossroads.adapters.key_folder import KeyFolder
from crossroads.adapters.keys import HubKeys
from crossroads.providerkit import HubKeySet, ProviderApp

BASE = "https://register.example"
pytestmark = pytest.mark.anyio


class Published:
    """The hub's JWKS endpoint, counted (the kit's `fetch`; the hub's keys are real)."""

    def __init__(self, keys: HubKeys) -> None:
        self.keys, self.fetched = keys, 0

    def __call__(self) -> dict:
        self.fetched += 1
        return self.keys.jwks()


def signed(keys: HubKeys, body: dict) -> tuple[bytes, dict]:
    raw = json.dumps(body).encode()
    url = f"{BASE}/services/x/1"
    signature = keys.sign_detached(raw, {"aud": url, "rid": "r-1", "iat": int(time.time())})
    return raw, {"X-Crossroads-Signature": signature, "Content-Type": "application/json"}


def app_with(keys: HubKeySet) -> ProviderApp:
    app = ProviderApp(BASE, keys)

    @app.service("/services/x/1")
    async def answer(request: dict) -> dict:
        return {"seen": request["n"]}

    return app


async def test_a_rotated_hub_key_is_fetched_once_when_requests_first_name_it(tmp_path):
    folder = KeyFolder(tmp_path / "keys")
    hub = HubKeys.load_or_create(folder.directory, reload_seconds=0)
    published = Published(hub)
    kit = HubKeySet(published(), fetch=published, min_interval_seconds=30)
    app = app_with(kit)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        body, headers = signed(hub, {"n": 0})
        assert (await http.post("/services/x/1", content=body, headers=headers)).status_code == 200
        folder.publish_next()
        folder.activate()  # the provider never saw the next key: it was not restarted either
        answers = await asyncio.gather(
            *(
                http.post("/services/x/1", content=b, headers=h)
                for b, h in (signed(hub, {"n": n}) for n in range(1, 9))
            )
        )
        assert [a.status_code for a in answers] == [200] * 8
        assert published.fetched == 2  # the first, and one for all eight requests

        stranger = HubKeys.load_or_create(tmp_path / "stranger")
        for n in range(5):  # made-up keys: refused, and the hub asked once per interval at most
            body, headers = signed(stranger, {"n": n})
            refused = await http.post("/services/x/1", content=body, headers=headers)
            assert refused.status_code == 401
        assert published.fetched == 2  # within 30 s of the last fetch: not asked again


async def test_keys_older_than_the_refresh_period_are_fetched_again_in_the_background(tmp_path):
    hub = HubKeys.load_or_create(tmp_path / "keys", reload_seconds=0)
    published = Published(hub)
    kit = HubKeySet(published(), fetch=published, refresh_seconds=0.05, min_interval_seconds=0)
    app = app_with(kit)
    await asyncio.sleep(0.06)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        body, headers = signed(hub, {"n": 1})
        assert (await http.post("/services/x/1", content=body, headers=headers)).status_code == 200
        for _ in range(100):
            if published.fetched == 2:
                break
            await asyncio.sleep(0.01)
    assert published.fetched == 2


def test_a_failed_fetch_keeps_the_keys_known():
    def unreachable() -> dict:
        raise OSError("connection refused")

    x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    jwks = {"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k1", "x": x}]}
    kit = HubKeySet(jwks, fetch=unreachable)
    assert kit.refresh() is False and kit.kids == {"k1"}
