"""`crossroads backup` and `crossroads audit restore-check | restore-recover`: a consistent copy
of a SQLite hub, and the procedure after any restore (docs/operations.md, "Backup and restore").
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import typer

from .audit_commands import _on_hub, audit_app
from .output import fail, out
from .stores import require_store, settings


def backup(
    to: Path = typer.Argument(..., help="A new folder for the copy."),
) -> None:
    """Copy a SQLite hub while it runs (sqlite3's online backup API), with its keys, secrets and
    audit archive. A PostgreSQL store is backed up with its own tools (pg_dump, WAL archiving);
    the files beside it are copied all the same."""
    current = require_store(settings())
    if to.exists():
        fail(f"{to} exists: name a new folder", 2)
    to.mkdir(parents=True)
    if current.store_url.startswith("sqlite:"):
        from ...adapters.sql.store import sqlite_path

        with (
            sqlite3.connect(sqlite_path(current.store_url)) as source,
            sqlite3.connect(to / "store.sqlite3") as copy,
        ):
            source.backup(copy)
        out.print(f"store copied to {to / 'store.sqlite3'}")
    else:
        out.print("PostgreSQL: back the database up with pg_dump or WAL archiving (see docs)")
    data = current.data_dir
    for name in ("keys", "secrets.json", "secrets"):
        if (data / name).is_dir():
            shutil.copytree(data / name, to / name)
        elif (data / name).exists():
            shutil.copy2(data / name, to / name)
    if current.archive_dir().is_dir():
        shutil.copytree(current.archive_dir(), to / "audit-archive")
    out.print(f"keys, secrets and audit archive copied to {to}")


@audit_app.command("restore-check")
def audit_restore_check() -> None:
    """Compare the log with the head each witness last countersigned. Exits 1 when the log is
    behind one (entries lost in a restore) or holds another history."""
    from ...bootstrap import restore_tools

    async def check(hub):
        restore, witnesses = restore_tools(hub)
        try:
            return await hub.store.transparency.size(), [
                await restore.compare(w.url, await w.latest()) for w in witnesses
            ]
        finally:
            for w in witnesses:
                await w.close()

    size, states = _on_hub(require_store(settings()), check)
    for state in states:
        out.print(f"{state.witness}: witnessed {state.witnessed_size:,}, {state.state}")
    out.print(f"the log holds {size:,} entries")
    if any(s.state != "in_step" for s in states):
        raise typer.Exit(1)


@audit_app.command("restore-recover")
def audit_restore_recover(
    archive: Path | None = typer.Option(None, help="Segment files' folder (audit_archive_dir)."),
    declare: str | None = typer.Option(
        None, help="Declare the entries the archive does not hold as lost, with this reason."
    ),
) -> None:
    """With the hub stopped: append again the lost entries the archive holds, then, with
    --declare, have each witness record the loss of the rest (a restore declaration)."""
    from ...bootstrap import restore_tools

    current = require_store(settings())
    folder = archive or current.archive_dir()

    async def recover(hub):
        restore, witnesses = restore_tools(hub)
        try:
            for witness in witnesses:
                latest = await witness.latest()
                state = await restore.compare(witness.url, latest)
                if state.state == "behind":
                    files = sorted(folder.glob("audit-*.jsonl.gz"))
                    count = await restore.recover(files, state.witnessed_size)
                    out.print(f"{witness.url}: {count:,} entries appended again from {folder}")
                    state = await restore.compare(witness.url, latest)
                if state.state == "in_step" or latest is None:
                    out.print(f"{witness.url}: in step")
                    continue
                if declare is None:
                    fail(f"{witness.url}: still {state.state}; pass --declare REASON", 1)
                head, entry, path = await restore.declare(latest, declare)
                await witness.declare_restore(
                    head,
                    entry,
                    path,
                    hub.audit_proofs.consistency,
                    await hub.store.transparency.heads(),
                )
                out.print(f"{witness.url}: restore declared in the tree of {head.tree_size:,}")
        finally:
            for w in witnesses:
                await w.close()

    _on_hub(current, recover)
