"""Fixtures: a hub on a real store (SQLite file, or PostgreSQL when a test asks for it)."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest

from crossroads.config import Settings
from crossroads.demo import country, own_access
from crossroads.demo.seed import client_key_path, seed
from crossroads.demo.sources import provider_apps
from crossroads.demo.wiring import bootstrap_demo, create_demo_app
from crossroads.providerkit import HubKeySet
from crossroads.services.clock import Clock

from .support import AppTransport, AsgiProviderClient, LateApp, token_form

POSTGRES_DSN = os.environ.get(
    "CROSSROADS_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
PROVIDER_HOST = "providers.test"


def fresh_postgres_database() -> str:
    """A new empty database on the test server; the test fails (never skips) when it is
    unreachable."""
    name = f"crossroads_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_DSN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return POSTGRES_DSN.rsplit("/", 1)[0] + f"/{name}"


def drop_postgres_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(POSTGRES_DSN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite3'}"
        return
    url = fresh_postgres_database()
    yield url
    drop_postgres_database(url)


async def _failing(scope, receive, send):
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": b"oops"})


def _answering(body: bytes):
    async def app(scope, receive, send):
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app


async def _crashing(scope, receive, send):
    # Reached through httpx's ASGI transport, this raises out of the provider client itself: a
    # failure of the world outside the hub that no refusal names (a TLS library's own error, say).
    raise ConnectionAbortedError("the provider's connection broke in a way the client does not map")


# Providers that misbehave, at addresses a test can register for an institution.
MISBEHAVING = {
    "crashing.test:1": _crashing,
    "failing.test:1": _failing,
    "not-json.test:1": _answering(b"<html>surprise</html>"),
    "off-schema.test:1": _answering(b'{"name": 42}'),
}


def make_settings(tmp_path: Path, store_url: str | None = None, **overrides) -> Settings:
    overrides.setdefault("declarations_source", country.BY_KEY["nsso"].number)
    overrides.setdefault("own_access_institution", own_access.PORTAL.enterprise_number)
    return Settings(
        data_dir=tmp_path,
        store_url=store_url or f"sqlite:///{tmp_path / 'hub.sqlite3'}",
        issuer="http://hub.test",
        admin_token="operator-secret-for-tests",
        subject_hash_secret="s" * 32,
        **overrides,
    )


class DemoHub:
    """A hub seeded with a small demo country, its HTTP API, and the providers in-process."""

    def __init__(self, app, hub, seeded, settings) -> None:
        self.app = app
        self.hub = hub
        self.seeded = seeded
        self.settings = settings
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://hub.test"
        )

    def private_key(self, client_id: str) -> dict:
        return json.loads(client_key_path(self.settings.data_dir, client_id).read_text())

    async def token(self, client_id: str) -> str:
        response = await self.http.post(
            "/oauth/token",
            data=token_form(client_id, self.private_key(client_id), "http://hub.test/oauth/token"),
        )
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    @property
    def welfare(self) -> str:
        return f"{country.BY_KEY['welfare'].number}:case-app"

    def held_by(self, member: str, *, phase: str | None = "definitive") -> list[str]:
        number = country.BY_KEY[member].number
        return [
            line["subject"]
            for line in country.directory_lines(self.seeded["subjects"])
            if line["institution"] == number
            and (phase is None or line.get("phase", "definitive") == phase)
        ]


async def start_demo_hub(
    tmp_path: Path,
    store_url: str | None = None,
    persons: int = 200,
    clock: Clock | None = None,
    **overrides,
) -> DemoHub:
    """`overrides`: more settings; with demo=True the citizens' sign-in goes to the hub's own
    development identity provider, reached in-process like the providers. `clock`: the hub's
    (the system's when None)."""
    settings = make_settings(tmp_path, store_url, **overrides)
    from crossroads.adapters.keys import HubKeys

    keys = HubKeys.load_or_create(settings.data_dir / "keys")
    apps = provider_apps(HubKeySet(keys.jwks()), PROVIDER_HOST, 9000)
    routes = {f"{PROVIDER_HOST}:{port}": app for port, app in apps.values()}
    routes.update(MISBEHAVING)
    hub_itself = LateApp()  # the hub's own declarations source, behind the hub like any provider
    routes["hub.test"] = hub_itself
    providers = AsgiProviderClient(routes)
    identity_provider = AppTransport()
    hub = await bootstrap_demo(settings, clock, providers, {"transport": identity_provider})
    seeded = await seed(hub, persons, PROVIDER_HOST, 9000)
    app = create_demo_app(settings, hub=hub)
    identity_provider.app = app
    hub_itself.app = app
    return DemoHub(app, hub, seeded, settings)


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
async def demo(tmp_path):
    demo_hub = await start_demo_hub(tmp_path)
    yield demo_hub
    await demo_hub.http.aclose()
    await demo_hub.hub.close()


@pytest.fixture
async def demo_on(tmp_path, store_url):
    """A small demo hub (60 persons) on each store: SQLite, then PostgreSQL."""
    demo_hub = await start_demo_hub(tmp_path, store_url, persons=60)
    yield demo_hub
    await demo_hub.http.aclose()
    await demo_hub.hub.close()
