"""Fixtures of the end-to-end tests: real hub processes on each store, and a demo hub for the
operator's pages."""

from __future__ import annotations

import pytest

from ..conftest import drop_postgres_database, fresh_postgres_database, start_demo_hub
from .processes import Deployment


@pytest.fixture(params=["sqlite", "postgres"])
def deployment(request, tmp_path):
    store = (
        f"sqlite:///{tmp_path / 'hub' / 'crossroads.sqlite3'}"
        if request.param == "sqlite"
        else fresh_postgres_database()
    )
    made = Deployment(tmp_path, store)
    try:
        yield made
    finally:
        made.stop_all()
        if request.param == "postgres":
            drop_postgres_database(store)


@pytest.fixture
async def operators_demo(tmp_path):
    """A demo hub of 20 persons for the operator's pages and forms (signed in per test)."""
    demo = await start_demo_hub(tmp_path, persons=20, demo=True)
    yield demo
    await demo.http.aclose()
    await demo.hub.close()
