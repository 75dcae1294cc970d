"""`crossroads backup` and `crossroads audit restore-check | restore-recover`: a consistent copy
of a SQLite hub, and the procedure after any restore (docs/operations.md, "Backup and restore").
"""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import typer

from .audit_commands import _on_hub, audit_app
from .output import err, fail, out
from .stores import require_store, settings, with_data_dir


@with_data_dir
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
        from ...adapters.sql.audit_file import audit_path, where_the_log_is
        from ...adapters.sql.store import sqlite_path

        store = sqlite_path(current.store_url)
        log_file = where_the_log_is(store)
        if log_file is None:
            to.rmdir()
            fail(
                f"no audit log in {audit_path(store)} nor in {store}: a copy without it could"
                " never be started; nothing copied",
                2,
            )
        # The store first, then its audit file: every effect in the store's copy was audited
        # before it was stored (audit_file.py), so the later copy of the log holds its record.
        copied_files = [(store, to / "store.sqlite3")]
        if log_file != store:  # a store not yet opened by this version holds its own
            copied_files.append((log_file, Path(audit_path(str(to / "store.sqlite3")))))
        for source_path, copy_path in copied_files:
            with (
                closing(sqlite3.connect(source_path)) as source,
                closing(sqlite3.connect(copy_path)) as copy,
            ):
                source.backup(copy)
            out.print(f"copied {source_path} to {copy_path}")
    else:
        out.print("PostgreSQL: back the database up with pg_dump or WAL archiving (see docs)")
    data = current.data_dir
    copied = []
    for name in ("keys", "secrets.json", "secrets"):
        if (data / name).is_dir():
            shutil.copytree(data / name, to / name)
            copied.append(f"{name}/")
        elif (data / name).exists():
            shutil.copy2(data / name, to / name)
            copied.append(name)
    segments = _segments(current.archive_dir())
    if segments:
        shutil.copytree(current.archive_dir(), to / "audit-archive")
        copied.append(f"audit-archive/ ({len(segments)} segment(s))")
    missing = [] if segments else [f"no audit archive segment in {current.archive_dir()}"]
    if "keys/" not in copied:
        missing.append(f"no keys in {data / 'keys'}")
    out.print(
        f"copied to {to}: {', '.join(copied) or 'nothing beside the store'}"
        + (f" ({'; '.join(missing)})" if missing else ""),
        highlight=False,
    )


def _segments(folder: Path) -> list[Path]:
    return sorted(folder.glob("audit-*.jsonl.gz")) if folder.is_dir() else []


NO_WITNESS = (
    "no witness configured (CROSSROADS_WITNESS_URLS): the restored log is compared with the "
    "hub's own audit archive only"
)


async def _targets(restore, witnesses, folder: Path) -> list[tuple[str, dict | None, object]]:
    """What the restored log is compared with: the newest archive segment's end head (a head
    the hub signed before the loss), then each witness's latest countersigned head; each as
    (name, head or None, the witness or None for the archive)."""
    targets: list[tuple[str, dict | None, object]] = []
    try:
        archived = restore.archive_head(_segments(folder))
    except RuntimeError as exc:
        fail(f"audit archive: {exc}", 1)
    if archived is not None:
        targets.append((f"archive {folder}", archived, None))
    for witness in witnesses:
        targets.append((witness.url, await witness.latest(), witness))
    return targets


def _say_what_is_compared(targets, witnesses, folder: Path) -> None:
    if not witnesses and not targets:
        err.print(
            f"[yellow]warning[/yellow]: {NO_WITNESS}, and {folder} holds no segment: "
            "nothing to compare the restored log with, so entries a restore lost cannot be "
            "found (export segments with `crossroads audit export`, docs/operations.md)",
            highlight=False,
        )
    elif not witnesses:
        err.print(f"[yellow]warning[/yellow]: {NO_WITNESS} ({folder})", highlight=False)


@audit_app.command("restore-check")
@with_data_dir
def audit_restore_check(
    archive: Path | None = typer.Option(
        None, help="Segment files' folder (default: the audit_archive_dir setting)."
    ),
) -> None:
    """Compare the log with its audit archive's newest segment and with the head each witness
    last countersigned. Exits 1 when the log is behind one (entries lost in a restore) or holds
    another history."""
    from ...bootstrap import restore_tools

    current = require_store(settings())
    folder = archive or current.archive_dir()

    async def check(hub):
        restore, witnesses = restore_tools(hub)
        try:
            targets = await _targets(restore, witnesses, folder)
            _say_what_is_compared(targets, witnesses, folder)
            return await hub.store.transparency.size(), [
                await restore.compare(name, latest) for name, latest, _ in targets
            ]
        finally:
            for w in witnesses:
                await w.close()

    size, states = _on_hub(current, check)
    for state in states:
        out.print(f"{state.witness}: signed {state.witnessed_size:,}, {state.state}")
    out.print(f"the log holds {size:,} entries")
    lost = max((s.witnessed_size - size for s in states if s.state == "behind"), default=0)
    if lost:
        out.print(
            f"{lost:,} entries lost ({size:,}–{size + lost - 1:,}): "
            "run `crossroads audit restore-recover` with the hub stopped"
        )
    if any(s.state != "in_step" for s in states):
        raise typer.Exit(1)


@audit_app.command("restore-recover")
@with_data_dir
def audit_restore_recover(
    archive: Path | None = typer.Option(None, help="Segment files' folder (audit_archive_dir)."),
    declare: str | None = typer.Option(
        None, help="Declare the entries the archive does not hold as lost, with this reason."
    ),
) -> None:
    """With the hub stopped: append again the lost entries the archive holds, then, with
    --declare, have each witness record the loss of the rest (a restore declaration). Exits 1
    when entries remain lost or the log holds another history than the archive's."""
    from ...bootstrap import restore_tools

    current = require_store(settings())
    folder = archive or current.archive_dir()

    async def recover(hub):
        restore, witnesses = restore_tools(hub)
        files = _segments(folder)
        try:
            targets = await _targets(restore, witnesses, folder)
            _say_what_is_compared(targets, witnesses, folder)
            for name, latest, witness in targets:
                state = await restore.compare(name, latest)
                if state.state == "behind":
                    count = await restore.recover(files, state.witnessed_size)
                    out.print(f"{name}: {count:,} entries appended again from {folder}")
                    state = await restore.compare(name, latest)
                if state.state == "in_step" or latest is None:
                    out.print(f"{name}: in step")
                    continue
                if witness is None:
                    fail(
                        f"{name}: still {state.state} (signed {state.witnessed_size:,}, the log "
                        f"holds {await hub.store.transparency.size():,}): "
                        + (
                            "a segment is missing from the archive"
                            if state.state == "behind"
                            else "the log holds other entries than the archive: never normal, "
                            "see docs/operations.md"
                        ),
                        1,
                    )
                if declare is None:
                    fail(f"{name}: still {state.state}; pass --declare REASON", 1)
                head, entry, path = await restore.declare(latest, declare)
                await witness.declare_restore(
                    head,
                    entry,
                    path,
                    hub.audit_proofs.consistency,
                    await hub.store.transparency.heads(),
                )
                out.print(f"{name}: restore declared in the tree of {head.tree_size:,}")
            out.print(f"the log holds {await hub.store.transparency.size():,} entries")
        finally:
            for w in witnesses:
                await w.close()

    try:
        _on_hub(current, recover)
    except typer.Exit:  # click's Exit is a RuntimeError too: the command already said why
        raise
    except RuntimeError as exc:  # a segment that does not verify or reproduce its head
        fail(str(exc))
