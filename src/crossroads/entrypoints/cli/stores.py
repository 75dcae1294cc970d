"""The settings the operator's commands run with, and the check that the store they read exists.

Opening a SQLite store creates its file, and a PostgreSQL database without the schema is given
one: right for `migrate`, `serve`, `demo` and `registry load`, which set a hub up, but a command
that only reads or changes a hub's state (`registry list`, `audit verify`…) run in the wrong
folder would quietly make an empty store beside the real one and answer from it. Those commands
call `require_store` first.

Every command that works on a hub's files takes `--data-dir DIR` (`with_data_dir`): the hub's
folder, as CROSSROADS_DATA_DIR names it (keys, secrets, audit archive, federation pins,
statistics files), and its store DIR/crossroads.sqlite3 unless CROSSROADS_STORE_URL names
another, which is how `crossroads demo --data-dir DIR` lays its folder out.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path
from typing import TypeVar

import typer

from ...config import Settings
from .output import fail

NO_STORE_HINT = (
    "pass --data-dir DIR with the hub's folder (the demo's: var/demo, or the --data-dir it was "
    "started with), or set CROSSROADS_STORE_URL to the hub's store, "
    "or create one with `crossroads migrate`"
)
STORE_FILE = "crossroads.sqlite3"  # a folder's own SQLite store, as the demo lays it out

_data_dir: ContextVar[Path | None] = ContextVar("data_dir", default=None)
Command = TypeVar("Command", bound=Callable)


def with_data_dir(command: Command) -> Command:
    """Give `command` the option `--data-dir DIR`, which `settings()` then applies.

    One decorator rather than a parameter threaded through every helper that reads the
    settings, so that no command of the hub's files can take the option and forget to use it.
    """
    option = typer.Option(
        None,
        "--data-dir",
        show_default=False,
        help=f"The hub's folder: its keys, secrets and archive (as CROSSROADS_DATA_DIR) and its "
        f"store DIR/{STORE_FILE} unless CROSSROADS_STORE_URL names another.",
    )
    signature = inspect.signature(command)
    parameter = inspect.Parameter(
        "data_dir", inspect.Parameter.KEYWORD_ONLY, default=option, annotation=Path | None
    )

    @functools.wraps(command)
    def run(*args, data_dir: Path | None = None, **kwargs):
        token = _data_dir.set(data_dir)
        try:
            return command(*args, **kwargs)
        finally:
            _data_dir.reset(token)

    run.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), parameter]
    )
    run.__annotations__ = {**command.__annotations__, "data_dir": Path | None}
    return run  # type: ignore[return-value]


def settings(**overrides) -> Settings:
    """The settings from the environment, with the command's own options (`--data-dir`
    among them) over them."""
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        folder = _data_dir.get()
        if folder is not None:
            given.setdefault("data_dir", folder)
            if "store_url" not in Settings(**given).model_fields_set:
                given.setdefault("store_url", f"sqlite:///{folder / STORE_FILE}")
        return Settings(**given)
    except Exception as exc:  # pydantic's ValidationError: name the variable, then stop
        fail(f"configuration error: {exc}", 2)


def require_store(current: Settings) -> Settings:
    """Stop with one line when the store `current` names does not exist (or has no schema)."""
    url = current.store_url
    if url.startswith("sqlite:"):
        from ...adapters.sql.store import sqlite_path

        path = Path(sqlite_path(url))
        if not path.is_file():
            fail(f"no store at {path} ({_origin(current)}): {NO_STORE_HINT}", 2)
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


def _origin(current: Settings) -> str:
    """Where the store's URL came from, as the "no store" line says it."""
    if _data_dir.get() is not None and "store_url" not in Settings().model_fields_set:
        return f"the store of --data-dir {_data_dir.get()}"
    return f"CROSSROADS_STORE_URL={current.store_url}"


def _without_password(url: str) -> str:
    """The URL as it may be printed: a password in it is replaced by ***."""
    scheme, _, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}"
