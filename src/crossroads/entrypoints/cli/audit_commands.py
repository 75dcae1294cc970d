"""`crossroads audit …` (verify, export, prune, check-segment) and `crossroads witness`: the audit
log's Merkle tree, its archive segments, and the witness that countersigns its tree heads.

Every `audit` command but `check-segment` (which reads files) needs the store to exist already.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from ...domain.errors import Refusal
from .output import err, fail, out
from .stores import require_store, settings, with_data_dir

audit_app = typer.Typer(
    help="The audit log: its Merkle tree and signed tree heads.", no_args_is_help=True
)


def _on_hub(current, use):
    """Run `use(hub)` on a hub wired to the store `current` names, then close it; stop with one
    line when the data folder holds no signing key (bootstrap makes none)."""
    from ...adapters.key_folder import NoHubKey
    from ...bootstrap import bootstrap

    async def run():
        hub = await bootstrap(current)
        try:
            return await use(hub)
        finally:
            await hub.close()

    try:
        return asyncio.run(run())
    except NoHubKey as missing:
        fail(str(missing), 2)


@audit_app.command("verify")
@with_data_dir
def audit_verify(
    sequence: bool = typer.Option(
        True, help="First give pending entries their leaf index and sign a head."
    ),
) -> None:
    """Recompute the audit tree from the stored entries; check every stored node and tree head.

    Exits 1 and names the first entry concerned when anything was modified, removed, inserted or
    reordered, or when a tree head does not verify.
    """

    async def verify(hub):
        if sequence:
            while await hub.sequencer.step():
                pass
        total = await hub.store.transparency.size()
        with Progress(
            TextColumn("verifying"),
            BarColumn(),
            TextColumn("{task.completed:,}/{task.total:,}"),
            TimeElapsedColumn(),
            console=err,
        ) as bar:
            task = bar.add_task("verify", total=total)
            return await hub.auditor.verify(lambda n: bar.advance(task, n))

    started = time.perf_counter()
    report = _on_hub(require_store(settings()), verify)
    elapsed = time.perf_counter() - started
    if report.problem is None:
        archived = (
            f" (the first {report.archived:,} pruned: see the archive segments)"
            if report.archived
            else ""
        )
        out.print(
            f"audit log verified: {report.entries:,} entries{archived}, "
            f"{report.nodes:,} stored hashes, "
            f"{report.heads:,} signed tree heads, in {elapsed:.1f} s"
        )
        return
    problem = report.problem
    out.print(
        f"[red]audit log NOT verified[/red] at entry {problem.index:,} ({problem.kind}): "
        f"{problem.message}"
    )
    raise typer.Exit(1)


@audit_app.command("export")
@with_data_dir
def audit_export(
    to: Path | None = typer.Option(
        None, help="Folder for the segment files (default: the audit_archive_dir setting)."
    ),
) -> None:
    """Write the entries since the last export, up to the latest signed tree head, as one
    self-verifying segment file (gzip'd JSON lines), verified once written."""
    current = require_store(settings())
    folder = to or current.archive_dir()

    async def export(hub):
        await hub.sequencer.sign_now()  # the segment ends at the newest entries
        return await hub.archive.export(folder)

    segment = _on_hub(current, export)
    if segment is None:
        out.print("nothing to export: no entries since the last segment")
        return
    out.print(
        f"exported entries {segment.start:,}–{segment.end - 1:,} to {folder / segment.file_name} "
        f"(sha256 {segment.sha256})"
    )


@audit_app.command("prune")
@with_data_dir
def audit_prune(
    retention_days: int | None = typer.Option(
        None, min=1, help="Default: the audit_retention_days setting."
    ),
    archive: Path | None = typer.Option(
        None, help="Folder of the segment files (default: the audit_archive_dir setting)."
    ),
) -> None:
    """Remove from the live store the exported entries older than the retention period, after
    checking their segment files; tree heads stay, and audit verify still checks them."""
    current = settings()
    days = retention_days or current.audit_retention_days
    if days is None:
        fail("no retention period: pass --retention-days or set CROSSROADS_AUDIT_RETENTION_DAYS", 2)
    require_store(current)
    try:
        report = _on_hub(
            current, lambda hub: hub.archive.prune(archive or current.archive_dir(), days)
        )
    except typer.Exit:  # click's Exit is a RuntimeError too: a refusal already said
        raise
    except RuntimeError as exc:
        fail(str(exc))
    if not report.segments:
        out.print(f"nothing to prune: the live log begins at entry {report.up_to:,}")
        return
    out.print(
        f"pruned {report.removed:,} entries of {len(report.segments)} segment(s); "
        f"the live log begins at entry {report.up_to:,}"
    )


@audit_app.command("check-segment")
@with_data_dir
def audit_check_segment(
    files: list[Path] = typer.Argument(..., help="Segment files, in order."),
    jwks: Path | None = typer.Option(
        None,
        help="The hub's JWKS to trust (e.g. fetched from "
        "/.well-known/jwks.json); default: this hub's keys.",
    ),
) -> None:
    """Verify archive segments on their own, and that each one continues the one before."""
    import gzip

    from ...verifier import ProofError, verify_segment

    if jwks is not None:
        keys = json.loads(jwks.read_text())
    else:
        from ...adapters.key_folder import NoHubKey
        from ...adapters.keys import HubKeys

        folder = settings().data_dir / "keys"
        try:
            keys = HubKeys.load(folder).jwks()  # every key ever used, retired ones included
        except NoHubKey:
            fail(f"no hub keys in {folder}: pass --jwks with the key set you trust", 2)
    previous = None
    for path in files:
        try:
            with gzip.open(path, "rb") as lines:
                header = verify_segment(lines, keys)
            if previous is not None and header["start_head"] != previous["end_head"]:
                raise ProofError(
                    f"it does not continue {previous['_path']} "
                    "(its start head is not that one's end head)"
                )
        except (ProofError, OSError) as exc:
            fail(f"{path}: NOT verified: {exc}")
        header["_path"] = path
        previous = header
        out.print(f"{path}: entries {header['start']:,}–{header['end'] - 1:,} verified")


def witness(
    hub_jwks: Path = typer.Option(
        ...,
        help="The watched hub's JWKS (its /.well-known/jwks.json), obtained "
        "out of band and pinned: the keys trusted from the start.",
    ),
    hub_url: str | None = typer.Option(
        None,
        help="The hub's base URL: where the witness reads the key history "
        "(/.well-known/crossroads/key-history) to trust the keys endorsed by those it trusts.",
    ),
    trust_head: Path | None = typer.Option(
        None,
        help="A tree head of the hub (JSON, as GET /v1/audit/tree-head serves it) obtained out "
        "of band: a new witness starts from it, so the hub's first head must extend it by proof.",
    ),
    data: Path = typer.Option(
        Path("witness"), help="Folder for the witness's key and its ledger of countersigned heads."
    ),
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8090),
) -> None:
    """Run a witness: countersign a hub's tree heads, each only after checking that it is
    consistent with the last one countersigned; refuse and keep the evidence of a split view."""
    import uvicorn

    from ..witness import create_witness_app

    try:
        app = create_witness_app(
            data,
            json.loads(hub_jwks.read_text()),
            hub_url,
            json.loads(trust_head.read_text()) if trust_head else None,
        )
    except Refusal as refusal:
        fail(f"{trust_head}: {refusal.message}", 2)
    except (OSError, ValueError) as exc:  # a file missing, or not JSON
        fail(f"cannot read the witness's trust: {exc}", 2)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="info",
    )
