"""Fixtures of the end-to-end tests: real hub processes on each store."""

from __future__ import annotations

import pytest

from ..conftest import drop_postgres_database, fresh_postgres_database
from .processes import Deployment


@pytest.fixture(params=["sqlite", "postgres"])
def deployment(request, tmp_path):
    store = f"sqlite:///{tmp_path / 'hub' / 'crossroads.sqlite3'}" if request.param == "sqlite" else fresh_postgres_database()
    made = Deployment(tmp_path, store)
    try:
        yield made
    finally:
        made.stop_all()
        if request.param == "postgres":
            drop_postgres_database(store)
