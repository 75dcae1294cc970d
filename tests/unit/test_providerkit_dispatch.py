"""The provider kit answers the hub's POSTs to its served paths without Starlette's router and
middleware (docs/benchmarks.md, "The data page's CPU"), and keeps every check and answer it gave
through them: the hub's signature over the body, its audience and age, the error format with the
hub's request id, the `on_refusal` hook, a handler's fault answered `internal_error`; any other
request (another method or path) still goes through Starlette."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from crossroads.adapters.keys import HubKeys
from crossroads.domain.errors import Refusal
from crossroads.providerkit import HubKeySet, ProviderApp

BASE = "https://register.example"
pytestmark = pytest.mark.anyio


def signed(hub: HubKeys, raw: bytes, path: str, *, iat: float | None = None) -> dict:
    claims = {
        "aud": BASE + path,
        "rid": "hub-rid-1",
        "iat": int(time.time() if iat is None else iat),
    }
    return {"X-Crossroads-Signature": hub.sign_detached(raw, claims)}


@pytest.fixture
def hub(tmp_path) -> HubKeys:
    return HubKeys.load_or_create(tmp_path / "keys")


@pytest.fixture
def refused() -> list[str]:
    return []


@pytest.fixture
def app(hub: HubKeys, refused: list[str]) -> ProviderApp:
    async def on_refusal(request, refusal: Refusal) -> Refusal:
        # The route, as Starlette's router named it: the hub's audit of its own source's
        # refusals names it (entrypoints/api/errors.py), "unrouted" without it.
        route = request.scope.get("route")
        refused.append(f"{refusal.code} {route.path if route else 'unrouted'}")
        return refusal

    app = ProviderApp(BASE, HubKeySet(hub.jwks()), on_refusal=on_refusal)
    received: list = []

    @app.service("/services/x/1")
    async def answer(request: dict) -> dict:
        if request.get("fail"):
            raise RuntimeError("the handler's own fault")
        return {"seen": request["n"]}

    @app.mutations("/events")
    async def events(batch: list) -> None:
        received.extend(batch)

    app.received = received  # type: ignore[attr-defined]
    return app


async def post(app: ProviderApp, path: str, raw: bytes, headers: dict) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        return await http.post(path, content=raw, headers=headers)


async def test_a_signed_post_is_answered_without_building_starlette(app, hub) -> None:
    raw = json.dumps({"n": 7}).encode()
    answer = await post(app, "/services/x/1", raw, signed(hub, raw, "/services/x/1"))
    assert (answer.status_code, answer.json()) == (200, {"seen": 7})
    assert answer.headers["content-type"] == "application/json"
    events = json.dumps([{"id": "e-1"}]).encode()
    assert (await post(app, "/events", events, signed(hub, events, "/events"))).status_code == 204
    assert app.received == [{"id": "e-1"}]  # type: ignore[attr-defined]
    assert app._app is None, "the hub's POSTs went through Starlette's router"


def assert_refused(answer: httpx.Response, status: int, code: str, rid: str | None) -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert (body["code"], answer.headers["X-Road-Error"]) == (code, code)
    assert body["request_id"] == answer.headers["X-Request-Id"]
    if rid is not None:
        assert body["request_id"] == rid


async def test_every_signature_check_still_refuses(app, hub, refused, tmp_path) -> None:
    raw = json.dumps({"n": 1}).encode()
    path = "/services/x/1"
    unsigned = await post(app, path, raw, {})
    assert_refused(unsigned, 401, "unauthenticated", None)
    other_body = await post(app, path, b'{"n": 2}', signed(hub, raw, path))
    assert_refused(other_body, 401, "unauthenticated", None)
    other_address = await post(app, path, raw, signed(hub, raw, "/services/y/1"))
    assert_refused(other_address, 401, "unauthenticated", None)
    assert "another address" in other_address.json()["message"]
    too_old = await post(app, path, raw, signed(hub, raw, path, iat=time.time() - 3600))
    assert_refused(too_old, 401, "unauthenticated", None)
    stranger = HubKeys.load_or_create(tmp_path / "stranger")
    assert_refused(
        await post(app, path, raw, signed(stranger, raw, path)), 401, "unauthenticated", None
    )
    events = await post(app, "/events", raw, {})
    assert_refused(events, 401, "unauthenticated", None)
    assert refused == ["unauthenticated /services/x/1"] * 5 + ["unauthenticated /events"], (
        "the on_refusal hook was not awaited for each, or did not see the route"
    )


async def test_bad_bodies_and_faults_name_the_hubs_request_id(app, hub, refused) -> None:
    path = "/services/x/1"
    not_json = b"{not json"
    assert_refused(
        await post(app, path, not_json, signed(hub, not_json, path)),
        400,
        "malformed_request",
        "hub-rid-1",
    )
    failing = json.dumps({"n": 1, "fail": True}).encode()
    assert_refused(
        await post(app, path, failing, signed(hub, failing, path)),
        500,
        "internal_error",
        "hub-rid-1",
    )
    not_a_batch = json.dumps({"id": "e-1"}).encode()
    assert_refused(
        await post(app, "/events", not_a_batch, signed(hub, not_a_batch, "/events")),
        400,
        "malformed_request",
        "hub-rid-1",
    )
    assert refused == [
        "malformed_request /services/x/1",
        "internal_error /services/x/1",
        "malformed_request /events",
    ]


async def test_other_methods_and_paths_are_still_starlettes(app, hub, refused) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        assert_refused(await http.get("/services/x/1"), 405, "method_not_allowed", None)
        assert_refused(
            await http.post("/services/nothing/1", content=b"{}"), 404, "not_found", None
        )
    assert refused == ["method_not_allowed /services/x/1", "not_found unrouted"]


async def test_a_signed_body_naming_a_key_twice_is_refused_naming_it(app, hub) -> None:
    """The kit reads the hub's body as the hub reads a member's (domain/unique_keys.py)."""
    path = "/services/x/1"
    raw = b'{"n": 1, "n": 2}'
    answer = await post(app, path, raw, signed(hub, raw, path))
    assert_refused(answer, 400, "malformed_request", "hub-rid-1")
    assert answer.json()["field"] == "n"
