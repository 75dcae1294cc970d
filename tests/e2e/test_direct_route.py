"""The direct routes: the exchange (and a peer's exchange) served past FastAPI's router, refused
and audited the same way, and everything that does not match the route's path exactly left to the
router."""

from __future__ import annotations

import pytest
from starlette.responses import Response
from starlette.routing import Route

from crossroads.entrypoints.api.direct import DirectRoute

pytestmark = pytest.mark.anyio


async def test_exchange_is_answered_before_the_router(demo, monkeypatch):
    token = await demo.token(demo.welfare)
    router_type = type(demo.app.router)
    original = router_type.__call__
    routed: list[str] = []

    async def counting(self, scope, receive, send):
        routed.append(scope["path"])
        await original(self, scope, receive, send)

    monkeypatch.setattr(router_type, "__call__", counting)
    headers = {"Authorization": f"Bearer {token}"}
    body = {"subject": demo.held_by("welfare")[0], "purpose": "SOCIAL_INTEGRATION"}
    response = await demo.http.post("/v1/exchange/person.identity", headers=headers, json=body)
    assert response.status_code == 200, response.text
    assert routed == []
    await demo.http.post("/v1/holders", headers=headers, json=body)
    assert routed == ["/v1/holders"]  # every other route still goes through the router


async def test_refusals_of_the_direct_route_are_rendered_and_audited_like_the_routers(demo):
    before = await demo.hub.store.audit.count()
    response = await demo.http.post(
        "/v1/exchange/person.identity", json={"subject": "x", "purpose": "P"}
    )
    assert response.status_code == 401 and response.json()["code"] == "unauthenticated"
    assert response.headers["www-authenticate"].startswith("Bearer")
    token = await demo.token(demo.welfare)
    response = await demo.http.post(
        "/v1/exchange/person.identity",
        content=b"{not json",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400 and response.json()["code"] == "malformed_request"
    entries = await demo.hub.store.audit.read(before + 1, 10)
    actions = [e for e in entries if b"POST /v1/exchange/{service}" in e[1]]
    assert len(actions) >= 2, "both refusals are audited under the route's declared path"


@pytest.mark.parametrize(
    "method, path, status",
    [
        ("GET", "/v1/exchange/person.identity", 405),  # another method: the router's answer
        ("POST", "/v1/exchange/", 404),  # no service named
        ("POST", "/v1/exchange/person.identity/extra", 404),  # more than one segment
    ],
)
async def test_other_requests_go_on_to_the_router(demo, method, path, status):
    token = await demo.token(demo.welfare)
    response = await demo.http.request(method, path, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == status, response.text


def test_only_a_route_of_whole_segment_parameters_can_be_direct():
    async def endpoint(request, *values):
        raise AssertionError

    with pytest.raises(ValueError):
        DirectRoute(None, route=Route("/v1/fixed", endpoint, methods=["POST"]), endpoint=endpoint)
    with pytest.raises(ValueError):
        DirectRoute(None, route=Route("/v1/x{a}/y", endpoint, methods=["POST"]), endpoint=endpoint)


async def test_a_route_of_several_parameters_matches_each_segment_and_nothing_else():
    answered: list[tuple] = []

    async def endpoint(request, *values):
        answered.append(values)
        return Response(status_code=204)

    passed: list[str] = []

    async def router(scope, receive, send):
        passed.append(scope["path"])

    route = Route("/v1/federation/{peer}/exchange/{service}/{version}", endpoint, methods=["POST"])
    direct = DirectRoute(router, route=route, endpoint=endpoint)

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        pass

    for path in (
        "/v1/federation/A/exchange/person.identity/1",
        "/v1/federation/A/exchange/person.identity",  # a segment short
        "/v1/federation/A/exchange/person.identity/1/x",  # one too many
        "/v1/federation//exchange/person.identity/1",  # an empty parameter
        "/v1/federation/A/answer/person.identity/1",  # another literal
    ):
        scope = {"type": "http", "method": "POST", "path": path, "headers": [], "query_string": b""}
        await direct(scope, receive, send)
    assert answered == [("A", "person.identity", "1")]
    assert len(passed) == 4
