"""The settings the operator's commands run with, and the check that the store they read exists.

Opening a SQLite store creates its file, and a PostgreSQL database without the schema is given
one: right for `migrate`, `serve`, `demo` and `registry load`, which set a hub up, but a command
that only reads or changes a hub's state (`registry list`, `audit verify`…) run in the wrong
folder would quietly make an empty store beside the real one and answer from it. Those commands
call `require_store` first.
"""

from __future__ import annotations

from pathlib import Path

from ...config import Settings
from .output import fail

NO_STORE_HINT = (
    "set CROSSROADS_STORE_URL to the hub's store (or run from the folder it is relative to), "
    "or create one with `crossroads migrate`"
)


def settings(**overrides) -> Settings:
    """The settings from the environment, with the command's own options over them."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except Exception as exc:  # pydantic's ValidationError: name the variable, then stop
        fail(f"configuration error: {exc}", 2)


def require_store(current: Settings) -> Settings:
    """Stop with one line when the store `current` names does not exist (or has no schema)."""
    url = current.store_url
    if url.startswith("sqlite:"):
        from ...adapters.sql.store import sqlite_path

        path = Path(sqlite_path(url))
        if not path.is_file():
            fail(f"no store at {path} (CROSSROADS_STORE_URL={url}): {NO_STORE_HINT}", 2)
        return current
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=10) as connection:
            found = connection.execute("SELECT to_regclass('schema_migrations')").fetchone()
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        fail(
            f"cannot open the store {_without_password(url)}: {reason}; check CROSSROADS_STORE_URL",
            2,
        )
    if found is None or found[0] is None:
        fail(f"the database {_without_password(url)} holds no Crossroads store: {NO_STORE_HINT}", 2)
    return current


def _without_password(url: str) -> str:
    """The URL as it may be printed: a password in it is replaced by ***."""
    scheme, _, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}"
