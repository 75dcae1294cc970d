"""HubRouter: a router declines a path none of its routes could match, and which route serves a
request is the same as with FastAPI trying every route."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from crossroads.bootstrap import settings_for_data_dir
from crossroads.entrypoints.api.app import create_app
from crossroads.entrypoints.api.hub_router import HubRouter


def _sample_paths(path: str) -> list[str]:
    """Paths a route's path matches: each parameter as one segment, and as two for `:path`."""
    one = re.sub(r"\{[^}]+\}", "x1", path)
    two = re.sub(r"\{[^}:]+:path\}", "x1/y2", path)
    return [one, two, one + "/", one.rstrip("/")]


def test_a_router_declines_only_paths_none_of_its_routes_could_match():
    router = HubRouter()
    router.add_api_route("/portal/employer/declarations/{id}", lambda id: id)
    router.add_api_route("/portal/employer/", lambda: 1)
    assert router.could_match("/portal/employer/declarations/7")
    assert router.could_match("/portal/employer/")
    assert not router.could_match("/portal/employer")
    assert not router.could_match("/citizen/")
    router.add_api_route("/citizen/", lambda: 2)  # a route added later is seen
    assert router.could_match("/citizen/")


def test_every_path_a_route_of_the_hub_matches_is_one_its_router_could_match(tmp_path: Path):
    app = create_app(settings_for_data_dir(tmp_path))
    routers = {
        id(entry.original_router): entry.original_router
        for entry in app.router.routes
        if isinstance(getattr(entry, "original_router", None), HubRouter)
    }
    assert len(routers) > 30  # every module's router of the API is a HubRouter
    checked = 0
    samples = [p for r in routers.values() for route in r.routes for p in _sample_paths(route.path)]
    for router in routers.values():
        for route in router.routes:
            assert isinstance(route, APIRoute)
            for path in samples:
                if route.path_regex.match(path):
                    assert router.could_match(path), (route.path, path)
                    checked += 1
    assert checked > 175


def test_the_route_served_its_partial_match_and_the_slash_redirect_are_as_fastapis():
    first, second = HubRouter(), HubRouter(prefix="/b")
    first.add_api_route("/a/{name}", lambda name: {"a": name}, methods=["GET"])
    second.add_api_route("/items", lambda: {"b": "list"}, methods=["GET"])
    second.add_api_route("/{key}", lambda key: {"b": key}, methods=["PUT"])
    app = FastAPI()
    app.include_router(first)
    app.include_router(second)
    client = TestClient(app)
    assert client.get("/a/x").json() == {"a": "x"}
    assert client.get("/b/items").json() == {"b": "list"}
    assert client.put("/b/items").json() == {"b": "items"}
    assert client.get("/b/other").status_code == 405  # the PUT route's partial match
    redirect = client.get("/b/items/", follow_redirects=False)
    assert (redirect.status_code, redirect.headers["location"]) == (
        307,
        "http://testserver/b/items",
    )
    assert client.get("/c").status_code == 404
