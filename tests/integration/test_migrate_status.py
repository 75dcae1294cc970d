"""`crossroads migrate --status` reads where the schema stands, on both stores, without writing."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import psycopg
from typer.testing import CliRunner

from crossroads.adapters.sql.migrate import available
from crossroads.adapters.sql.store import open_store
from crossroads.entrypoints.cli import app

runner = CliRunner()


def status(store_url: str):
    return runner.invoke(app, ["migrate", "--status"], env={"CROSSROADS_STORE_URL": store_url})


def execute(store_url: str, sql: str) -> None:
    if store_url.startswith("sqlite:"):
        with sqlite3.connect(store_url.removeprefix("sqlite:///")) as connection:
            connection.execute(sql)
    else:
        with psycopg.connect(store_url, autocommit=True) as connection:
            connection.execute(sql)


def migrate(store_url: str) -> None:
    async def run() -> None:
        await (await open_store(store_url)).close()

    asyncio.run(run())


def test_status_before_after_and_ahead_of_this_hub(store_url):
    dialect = "sqlite" if store_url.startswith("sqlite:") else "postgres"
    newest = max(v for v, _, _ in available(dialect))  # a migration may be one dialect's alone
    fresh = status(store_url)
    assert fresh.exit_code == 1 and "no schema yet" in fresh.output, fresh.output
    if store_url.startswith("sqlite:"):
        assert not Path(store_url.removeprefix("sqlite:///")).exists()  # nothing written
    assert status(store_url).exit_code == 1  # and no table made either
    migrate(store_url)
    current = status(store_url)
    assert current.exit_code == 0 and f"store schema version {newest}" in current.output, (
        current.output
    )
    execute(store_url, f"DELETE FROM schema_migrations WHERE version = {newest}")
    behind = status(store_url)
    assert behind.exit_code == 1 and f"pending  {newest:04d}" in behind.output, behind.output
    execute(
        store_url,
        "INSERT INTO schema_migrations (version, name) "
        f"VALUES ({newest}, 'again'), (999, 'future')",
    )
    ahead = status(store_url)
    assert ahead.exit_code == 3 and "newer hub" in ahead.output, ahead.output


def test_status_reads_a_sqlite_file_in_a_folder_named_as_no_uri_would_take_it(tmp_path):
    folder = tmp_path / "hub #1?mode=rwc%20"
    folder.mkdir()
    store_url = f"sqlite:///{folder / 'store.sqlite3'}"
    migrate(store_url)
    newest = max(v for v, _, _ in available("sqlite"))
    current = status(store_url)
    assert current.exit_code == 0 and f"store schema version {newest}" in current.output, (
        current.output
    )
