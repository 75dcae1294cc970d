"""`crossroads registry …` and `crossroads directory import`: the operator's changes to a hub's
registry and reference directory, straight on its store, through the same use cases (checked and
audited) as the admin API.

`registry load` may create the store (a hub's first registry is how it is set up); every other
command here needs the store to exist already. Every one needs the hub's signing key in the data
folder (they audit their changes in the hub's log), and none makes one.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from ...domain.errors import Refusal
from .operator_commands import cli_actor
from .output import err, fail, out, print_rows
from .stores import require_store, settings, with_data_dir

registry_app = typer.Typer(
    help="The registry: institutions, applications, capacities, integration rights, "
    "services and their providers, authorizations, each right's competent institution.",
    no_args_is_help=True,
)
directory_app = typer.Typer(help="The reference directory.", no_args_is_help=True)

READERS = {
    "institutions": "list_institutions",
    "applications": "list_applications",
    "capacities": "list_capacities",
    "services": "list_services",
    "authorizations": "find_authorizations",
    "integration-rights": "list_integration_rights",
    "routed-providers": "list_routed_providers",
    "competences": "list_competences",
}
# Too wide for a table: the schemas, the keys, and the texts in other languages (the admin API
# and the portal show those).
HIDDEN_FIELDS = (
    "request_schema",
    "response_schema",
    "jwks",
    "name_translations",
    "description_translations",
    "legal_basis_translations",
)


@registry_app.command("list")
@with_data_dir
def registry_list(
    kind: str = typer.Argument("institutions", help=f"{', '.join(READERS)}."),
) -> None:
    """List what the registry holds."""
    from ...adapters.sql.store import open_store

    if kind not in READERS:
        fail(f"unknown kind {kind!r}, try one of: {', '.join(READERS)}", 2)
    current = require_store(settings())

    async def run():
        store = await open_store(current.store_url)
        try:
            holder = store.rights_competence if kind == "competences" else store.registry
            return await getattr(holder, READERS[kind])()
        finally:
            await store.close()

    rows = asyncio.run(run())
    fields = [f for f in rows[0].__dataclass_fields__ if f not in HIDDEN_FIELDS] if rows else []
    print_rows(kind, fields, [[_cell(getattr(row, f)) for f in fields] for row in rows])


def _cell(value) -> str:
    if isinstance(value, tuple):
        return ", ".join(value)
    return "" if value is None else str(value)


@registry_app.command("load")
@with_data_dir
def registry_load(
    file: Path = typer.Argument(
        ...,
        exists=True,
        dir_okay=False,
        help="JSON: {institutions, capacities, integration_rights, services, "
        "routed_providers, authorizations, applications}; an entry's texts in other languages "
        "as name_translations, description_translations, legal_basis_translations.",
    ),
) -> None:
    """Put a whole registry document through the same checks as the admin API (each change
    audited); creates the store when there is none."""
    from ..registry_document import load_document

    counts = on_registry(
        lambda registry: load_document(registry, json.loads(file.read_text())), create=True
    )
    out.print(", ".join(f"{n} {kind}" for kind, n in counts.items()))


def on_registry(change, create: bool = False, competence: bool = False):
    """Run one registry use case against the store, as the admin API would (checked, audited);
    `competence`: one of the rights' competence use cases (services/rights_competence.py)."""
    from ...adapters.key_folder import NoHubKey
    from ...bootstrap import bootstrap

    current = settings() if create else require_store(settings())

    async def run():
        hub = await bootstrap(current)
        try:
            admin = hub.rights_competence if competence else hub.registry
            return await change(admin.by(cli_actor()))
        finally:
            await hub.close()

    try:
        return asyncio.run(run())
    except Refusal as refusal:
        fail(f"{refusal.code}: {refusal.message}")
    except NoHubKey as missing:
        fail(str(missing), 2)


@registry_app.command("grant")
@with_data_dir
def registry_grant(
    institution: str = typer.Argument(..., help="Enterprise number of the institution."),
    capacity: str = typer.Argument(..., help="Capacity code it may integrate persons in."),
    legal_basis: str = typer.Option("", help="The law or decision that licenses it."),
) -> None:
    """Let an institution integrate persons in a capacity (an integration right; audited)."""
    from ...domain.registry import IntegrationRight

    on_registry(
        lambda admin: admin.put_integration_right(
            IntegrationRight(institution, capacity, legal_basis)
        )
    )
    out.print(f"{institution} may integrate persons as {capacity}")


@registry_app.command("revoke")
@with_data_dir
def registry_revoke(
    institution: str = typer.Argument(...), capacity: str = typer.Argument(...)
) -> None:
    """Withdraw an integration right: the institution's entries in that capacity then count for
    nothing."""
    on_registry(lambda admin: admin.delete("integration_right", (institution, capacity)))
    out.print(f"{institution} may no longer integrate persons as {capacity}")


@registry_app.command("competent")
@with_data_dir
def registry_competent(
    right: str = typer.Argument(..., help="Code of a right the rules decide."),
    capacity: str | None = typer.Option(
        None, help="The institution holding the person in this capacity confirms."
    ),
    institution: str | None = typer.Option(
        None, help="Or this one institution (enterprise number) confirms them all."
    ),
    legal_basis: str = typer.Option("", help="The law that assigns the right to it."),
    remove: bool = typer.Option(
        False, "--remove", help="End the competence: the right's next decisions go to nobody."
    ),
) -> None:
    """Name (or, with --remove, end) the institution that confirms a right's decisions (the
    registry's entry the rights engine reads at each decision; audited)."""
    from ...domain.rights import Competence

    if remove:
        _on_competence(lambda admin: admin.delete(right))
        out.print(f"{right}: no competent institution")
        return
    try:
        competence = Competence(right, capacity, institution, legal_basis)
    except Refusal as refusal:
        fail(f"{refusal.code}: {refusal.message}", 2)
    _on_competence(lambda admin: admin.put(competence))
    out.print(
        f"{right}: confirmed by " + (f"the holder as {capacity}" if capacity else f"{institution}")
    )


def _on_competence(change):
    """Run one of the competence use cases against the store, as the admin API would."""
    return on_registry(change, competence=True)


@registry_app.command("provider")
@with_data_dir
def registry_provider(
    service: str = typer.Argument(..., help="Code of a routed service."),
    institution: str = typer.Argument(
        ..., help="Enterprise number of the institution that provides it."
    ),
    remove: bool = typer.Option(
        False, "--remove", help="Stop routing the service's requests to it."
    ),
) -> None:
    """Register (or, with --remove, withdraw) an institution as a provider of a routed service."""
    from ...domain.registry import RoutedProvider

    if remove:
        on_registry(lambda admin: admin.delete("routed_provider", (service, institution)))
        out.print(f"{institution} no longer provides {service}")
    else:
        on_registry(lambda admin: admin.put_routed_provider(RoutedProvider(service, institution)))
        out.print(f"{institution} provides {service}")


@directory_app.command("import")
@with_data_dir
def directory_import(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="CSV with a header row, or JSON Lines (.jsonl)."
    ),
    institution: str | None = typer.Option(
        None, help="Default institution for lines that name none."
    ),
    fmt: str | None = typer.Option(
        None, "--format", help="csv or jsonl (default: from the file name)."
    ),
    errors: Path | None = typer.Option(None, help="Write the per-line error report here (JSON)."),
    chunk: int = typer.Option(
        5000, min=1, help="Lines per transaction: larger loads faster, holds the write lock longer."
    ),
    parsers: int | None = typer.Option(
        None,
        min=0,
        help="Processes that read and validate lines while this "
        "one writes (default: one per core but one; 0: none).",
    ),
) -> None:
    """Bulk-integrate persons from a file, straight into the store, with a progress bar."""
    from ...adapters.key_folder import NoHubKey
    from ...bootstrap import bootstrap
    from ..batch import bulk_job, default_parsers

    current = require_store(settings())
    kind = fmt or ("jsonl" if file.suffix in (".jsonl", ".ndjson") else "csv")
    data = file.read_bytes()
    total = max(data.count(b"\n") - (1 if kind == "csv" else 0), 0)

    async def run(pool):
        hub = await bootstrap(current)
        try:
            with Progress(
                TextColumn("integrating"),
                BarColumn(),
                TextColumn("{task.completed:,}/{task.total:,}"),
                TimeElapsedColumn(),
                console=err,
            ) as bar:
                task = bar.add_task("import", total=total)
                return await hub.directory.import_file(
                    data,
                    kind,
                    institution,
                    "cli",
                    lambda n: bar.advance(task, n),
                    chunk_size=chunk,
                    parsers=pool,
                )
        finally:
            await hub.close()

    started = time.perf_counter()
    with bulk_job(default_parsers() if parsers is None else parsers) as pool:
        try:
            report = asyncio.run(run(pool))
        except NoHubKey as missing:
            fail(str(missing), 2)
    elapsed = time.perf_counter() - started
    out.print(
        f"{report.lines:,} lines, {report.applied:,} applied, {len(report.errors):,} rejected "
        f"in {elapsed:.1f} s"
    )
    for error in report.errors[:20]:
        out.print(
            f"  line {error['line']}: {error['code']}: {error['message']}",
            markup=False,
            highlight=False,
        )
    if errors is not None:
        errors.write_text(json.dumps(report.as_dict(max_errors=len(report.errors)), indent=2))
    if report.errors:
        raise typer.Exit(1)
