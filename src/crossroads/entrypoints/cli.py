"""The `crossroads` command line (Typer + Rich)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..config import Settings
from ..domain.errors import Refusal

app = typer.Typer(help="Crossroads: a crossroads bank for government data exchange.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
directory_app = typer.Typer(help="The reference directory.", no_args_is_help=True)
registry_app = typer.Typer(help="The registry: institutions, applications, capacities, integration rights, services and their providers, authorizations.", no_args_is_help=True)
keys_app = typer.Typer(help="Keys of the hub and of applications.", no_args_is_help=True)
app.add_typer(directory_app, name="directory")
app.add_typer(registry_app, name="registry")
app.add_typer(keys_app, name="keys")
audit_app = typer.Typer(help="The audit log: its Merkle tree and signed tree heads.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
console = Console(stderr=True)
out = Console()


def _settings(**overrides) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except Exception as exc:  # pydantic's ValidationError: name the variable, then stop
        console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from None


@app.command()
def serve(
    host: Optional[str] = typer.Option(None, help="Listen address (CROSSROADS_HOST)."),
    port: Optional[int] = typer.Option(None, help="Listen port (CROSSROADS_PORT)."),
    workers: Optional[int] = typer.Option(None, help="Hub processes (CROSSROADS_WORKERS)."),
) -> None:
    """Run the hub with the settings from the environment."""
    import uvicorn

    from .logs import configure

    from ..config import refuse_demo_mode
    from .bounded_http import BoundedHttpToolsProtocol

    settings = _settings(host=host, port=port, workers=workers)
    try:
        refuse_demo_mode(settings)
    except SystemExit as refused:
        console.print(f"[red]configuration error:[/red] {refused}", soft_wrap=True)
        raise typer.Exit(2) from None
    for name, value in (("CROSSROADS_HOST", host), ("CROSSROADS_PORT", port), ("CROSSROADS_WORKERS", workers)):
        if value is not None:
            os.environ[name] = str(value)  # worker processes read their settings from the environment
    log_config = configure(settings.log_level)
    asyncio.run(_migrate(settings))
    uvicorn.run("crossroads.entrypoints.api.asgi:app", host=settings.host, port=settings.port,
                workers=settings.workers, log_config=log_config, access_log=False, loop="uvloop",
                http=BoundedHttpToolsProtocol, lifespan="on", backlog=2048, server_header=False,
                # The hub decides nothing on the client's address, so the proxy-header rewrite
                # uvicorn does on every request by default is work for nothing.
                proxy_headers=False)


async def _migrate(settings: Settings) -> list[str]:
    from ..adapters.sql.store import open_store
    from ..bootstrap import load_secrets

    load_secrets(settings)
    store = await open_store(settings.store_url)
    await store.close()
    return []


@app.command()
def migrate(status: bool = typer.Option(
        False, "--status", help="Only show the schema's version and what is pending.")) -> None:
    """Create or upgrade the store's schema."""
    if status:
        from .migrate_status import report
        raise typer.Exit(report(_settings(), out))
    from ..adapters.sql.migrate import migrate as run_migrations
    from ..adapters.sql.store import open_store

    async def run() -> list[str]:
        store = await open_store(_settings().store_url, run_migrations=False)
        try:
            return await run_migrations(store.db)
        finally:
            await store.close()

    applied = asyncio.run(run())
    out.print(f"applied: {', '.join(applied) if applied else 'nothing, the schema is current'}")


@app.command()
def demo(
    persons: int = typer.Option(10_000, help="Persons in the synthetic country."),
    port: int = typer.Option(8000, help="Port of the hub."),
    provider_port_base: int = typer.Option(8100, help="Providers listen on this port + 1, + 2, …"),
    data_dir: Path = typer.Option(Path("var/demo"), help="Where the demo keeps its store and keys."),
    seed_only: bool = typer.Option(False, help="Seed the store, print the tour, and exit."),
    store_url: Optional[str] = typer.Option(None, help="Store to seed and serve (default: SQLite in data_dir)."),
    publish_every: float = typer.Option(1.0, min=0, help="Seconds between two mutations the registers publish (0: none)."),
) -> None:
    """Seed a synthetic country, start its authentic sources and the hub, and show how to ask."""
    from .demo_run import run_demo

    run_demo(persons=persons, port=port, provider_port_base=provider_port_base, data_dir=data_dir,
             seed_only=seed_only, store_url=store_url, publish_every=publish_every)


@app.command()
def providers(
    jwks: Path = typer.Option(..., help="The hub's public JWKS file (the demo writes data_dir/hub-jwks.json)."),
    host: str = typer.Option("127.0.0.1"),
    port_base: int = typer.Option(8100),
    publish_every: float = typer.Option(0.0, min=0, help="Seconds between two mutations the registers publish to --hub (0: none)."),
    hub: str = typer.Option("http://127.0.0.1:8000", help="The hub the registers publish to."),
    data_dir: Path = typer.Option(Path("var/demo"), help="Where the registers' application keys are (the demo's data_dir)."),
    persons: int = typer.Option(10_000, help="The demo country's persons (the same as `crossroads demo --persons`)."),
) -> None:
    """Run the demo's simulated authentic sources (one port each) in this process."""
    from ..demo import country
    from ..demo.publisher import DemoPublisher
    from .demo_run import serve_providers

    publisher = DemoPublisher(hub, data_dir, country.persons(persons), publish_every) if publish_every > 0 else None
    serve_providers(jwks, host, port_base, publisher)


@app.command()
def token(
    client: str = typer.Option(..., help="client_id: ENTERPRISE_NUMBER:APPLICATION_CODE."),
    key: Optional[Path] = typer.Option(None, help="The application's private JWK (default: the demo's)."),
    hub: str = typer.Option("http://127.0.0.1:8000", help="The hub's base URL."),
    data_dir: Path = typer.Option(Path("var/demo")),
) -> None:
    """Obtain an access token with a signed client assertion, and print it."""
    out.print(_token(client, key, hub, data_dir), soft_wrap=True)


def _token(client: str, key: Optional[Path], hub: str, data_dir: Path) -> str:
    import httpx

    from ..adapters.keys import token_request
    from ..demo.seed import client_key_path

    path = key or client_key_path(data_dir, client)
    if not path.exists():
        console.print(f"[red]no private key at {path}[/red]")
        raise typer.Exit(2)
    # The assertion's audience is the token endpoint as the hub names it (RFC 8414 metadata),
    # which differs from the URL used here when the hub sits behind a proxy or a load balancer.
    metadata = httpx.get(f"{hub}/.well-known/oauth-authorization-server", timeout=30)
    audience = metadata.json().get("token_endpoint") if metadata.status_code == 200 else None
    form = token_request(client, audience or f"{hub}/oauth/token", json.loads(path.read_text()))
    response = httpx.post(f"{hub}/oauth/token", data=form)
    if response.status_code != 200:
        console.print(f"[red]token refused ({response.status_code}):[/red] {response.text}")
        raise typer.Exit(1)
    return response.json()["access_token"]


@app.command()
def ask(
    service: str = typer.Argument(..., help="Service code, e.g. person.identity."),
    subject: str = typer.Argument(..., help="The person's identifier."),
    purpose: str = typer.Option(..., help="Purpose code."),
    client: str = typer.Option(..., help="client_id of the asking application."),
    key: Optional[Path] = typer.Option(None, help="The application's private JWK (default: the demo's)."),
    on: Optional[str] = typer.Option(None, "--date", help="Date of interest, YYYY-MM-DD."),
    user: Optional[str] = typer.Option(None, help="The official on whose behalf (X-Road-UserId)."),
    hub: str = typer.Option("http://127.0.0.1:8000"),
    data_dir: Path = typer.Option(Path("var/demo")),
) -> None:
    """Ask the hub a question, as an application, and print the answer."""
    import httpx

    access = _token(client, key, hub, data_dir)
    body = {"subject": subject, "purpose": purpose, **({"date": on} if on else {})}
    headers = {"Authorization": f"Bearer {access}", **({"X-Road-UserId": user} if user else {})}
    path = "/v1/holders" if service == "directory.holders" else f"/v1/exchange/{service}"
    response = httpx.post(f"{hub}{path}", json=body, headers=headers, timeout=30)
    out.print_json(response.text)
    if response.status_code != 200:
        raise typer.Exit(1)


@app.command()
def declare(
    kind: str = typer.Argument(..., help="dimona, dmfa, or social-risk/SCENARIO."),
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="The declaration: official XML (.xml) or its JSON form (.json)."),
    client: str = typer.Option(..., help="client_id of the declaring application (the employer's or its payroll office's)."),
    key: Optional[Path] = typer.Option(None, help="The application's private JWK (default: the demo's)."),
    batch: bool = typer.Option(False, "--batch", help="Upload as a batch file (many forms, or a large DmfA) and wait for its acknowledgement."),
    language: str = typer.Option("en", help="Language of the anomalies' labels: nl, fr or en."),
    hub: str = typer.Option("http://127.0.0.1:8000"),
    data_dir: Path = typer.Option(Path("var/demo")),
) -> None:
    """Send a declaration and show its status (A, W, B) and anomalies; exit 1 when refused."""
    import httpx

    access = _token(client, key, hub, data_dir)
    media = "application/xml" if file.suffix.lower() == ".xml" else "application/json"
    headers = {"Authorization": f"Bearer {access}", "Content-Type": media, "Accept-Language": language}
    path = f"/v1/declarations/batches/{kind}" if batch else f"/v1/declarations/{kind}"
    response = httpx.post(f"{hub}{path}", content=file.read_bytes(), headers=headers, timeout=300)
    if response.status_code not in (200, 201, 202):
        console.print(f"[red]refused ({response.status_code}):[/red] {response.text}")
        raise typer.Exit(1)
    location = response.headers["location"]
    console.print(f"received: {hub}{location}")
    if batch:
        status = response.json()
        while status["result"] == "S":
            time.sleep(0.5)
            status = httpx.get(f"{hub}{location}", headers=headers, timeout=30).json()
        answers = httpx.get(f"{hub}{location}/acknowledgement", headers=headers, timeout=300).json()
        declarations = answers.get("declarations", [])
        if "error" in answers:
            console.print(f"[red]{answers['error']['code']}:[/red] {answers['error']['message']}")
    else:
        declarations = [response.json()]
    for declaration in declarations:
        _show_declaration(declaration)
    if any(d["result"] == "B" for d in declarations) or (batch and answers["result"] == "B"):
        raise typer.Exit(1)


def _show_declaration(declaration: dict) -> None:
    period = f", DIMONA period {declaration['dimonaPeriodId']}" if declaration.get("dimonaPeriodId") else ""
    colour = {"A": "green", "W": "yellow", "B": "red"}.get(declaration["result"], "white")
    out.print(f"declaration {declaration['declarationId']} ({declaration['form']}): [{colour}]{declaration['result']}[/{colour}]{period}")
    for anomaly in declaration["anomalies"]:  # one line each, so that scripts can grep them
        detail = f" ({anomaly['detail'][:160]})" if anomaly.get("detail") else ""
        out.print(f"  {anomaly['errorId']} [{anomaly['severity']}] {anomaly['label']} at {anomaly.get('path', '')}{detail}",
                  soft_wrap=True, highlight=False)


@app.command()
def mailbox(
    client: str = typer.Option(..., help="client_id of the receiving application (its pull subscriptions' messages)."),
    key: Optional[Path] = typer.Option(None, help="The application's private JWK (default: the demo's)."),
    limit: int = typer.Option(20, min=1, max=1000, help="Messages per page."),
    ack: bool = typer.Option(False, "--ack", help="Acknowledge the messages shown (they leave the mailbox)."),
    follow: bool = typer.Option(False, "--follow", help="Keep showing new messages as they arrive (with --ack), until Ctrl-C."),
    hub: str = typer.Option("http://127.0.0.1:8000"),
    data_dir: Path = typer.Option(Path("var/demo")),
) -> None:
    """Show an application's mailbox: the mutations waiting for it, oldest first."""
    import httpx
    from rich.table import Table

    if follow and not ack:
        console.print("[red]--follow needs --ack: without it the same messages would be shown again and again[/red]")
        raise typer.Exit(2)
    headers = {"Authorization": f"Bearer {_token(client, key, hub, data_dir)}"}
    while True:
        response = httpx.get(f"{hub}/v1/mailbox", params={"limit": limit}, headers=headers, timeout=30)
        if response.status_code != 200:
            out.print_json(response.text)
            raise typer.Exit(1)
        messages = response.json()["messages"]
        if messages or not follow:
            table = Table("seq", "type", "subject", "effective", "id", "data", title=f"mailbox of {client}")
            for message in messages:
                event = message["event"]
                kind = event["type"].removeprefix("be.crossroads.")
                table.add_row(str(message["seq"]), kind, event["subject"], event.get("effectivedate", ""),
                              event["id"], json.dumps(event.get("data"), ensure_ascii=False, separators=(",", ":")))
            out.print(table)
        if ack and messages:
            acked = httpx.post(f"{hub}/v1/mailbox/ack", json={"seqs": [m["seq"] for m in messages]}, headers=headers, timeout=30)
            if acked.status_code != 200:
                out.print_json(acked.text)
                raise typer.Exit(1)
        if not follow:
            return
        if len(messages) < limit:
            time.sleep(1.0)


@directory_app.command("import")
def directory_import(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV with a header row, or JSON Lines (.jsonl)."),
    institution: Optional[str] = typer.Option(None, help="Default institution for lines that name none."),
    fmt: Optional[str] = typer.Option(None, "--format", help="csv or jsonl (default: from the file name)."),
    errors: Optional[Path] = typer.Option(None, help="Write the per-line error report here (JSON)."),
    chunk: int = typer.Option(5000, min=1, help="Lines per transaction: larger loads faster, holds the write lock longer."),
    parsers: Optional[int] = typer.Option(None, min=0, help="Processes that read and validate lines while this one writes (default: one per core but one; 0: none)."),
) -> None:
    """Bulk-integrate persons from a file, straight into the store, with a progress bar."""
    from ..bootstrap import bootstrap
    from .batch import bulk_job, default_parsers

    settings = _settings()
    kind = fmt or ("jsonl" if file.suffix in (".jsonl", ".ndjson") else "csv")
    data = file.read_bytes()
    total = max(data.count(b"\n") - (1 if kind == "csv" else 0), 0)

    async def run(pool):
        hub = await bootstrap(settings)
        try:
            with Progress(TextColumn("integrating"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,}"),
                          TimeElapsedColumn(), console=console) as bar:
                task = bar.add_task("import", total=total)
                return await hub.directory.import_file(data, kind, institution, "cli", lambda n: bar.advance(task, n),
                                                       chunk_size=chunk, parsers=pool)
        finally:
            await hub.close()

    started = time.perf_counter()
    with bulk_job(default_parsers() if parsers is None else parsers) as pool:
        report = asyncio.run(run(pool))
    elapsed = time.perf_counter() - started
    out.print(f"{report.lines:,} lines, {report.applied:,} applied, {len(report.errors):,} rejected in {elapsed:.1f} s")
    for error in report.errors[:20]:
        out.print(f"  line {error['line']}: {error['code']}: {error['message']}")
    if errors is not None:
        errors.write_text(json.dumps(report.as_dict(max_errors=len(report.errors)), indent=2))
    if report.errors:
        raise typer.Exit(1)


@registry_app.command("list")
def registry_list(kind: str = typer.Argument("institutions", help="institutions, applications, capacities, services, authorizations, integration-rights or routed-providers.")) -> None:
    """List what the registry holds."""
    from ..adapters.sql.store import open_store

    readers = {"institutions": "list_institutions", "applications": "list_applications",
               "capacities": "list_capacities", "services": "list_services", "authorizations": "find_authorizations",
               "integration-rights": "list_integration_rights", "routed-providers": "list_routed_providers"}
    if kind not in readers:
        console.print(f"[red]unknown kind {kind!r}; one of {', '.join(readers)}[/red]")
        raise typer.Exit(2)

    async def run():
        store = await open_store(_settings().store_url)
        try:
            return await getattr(store.registry, readers[kind])()
        finally:
            await store.close()

    rows = asyncio.run(run())
    table = Table(title=kind)
    if rows:
        fields = [f for f in rows[0].__dataclass_fields__ if f not in ("request_schema", "response_schema", "jwks")]
        for f in fields:
            table.add_column(f)
        for row in rows:
            table.add_row(*[_cell(getattr(row, f)) for f in fields])
    out.print(table)


def _cell(value) -> str:
    if isinstance(value, tuple):
        return ", ".join(value)
    return "" if value is None else str(value)


@registry_app.command("load")
def registry_load(file: Path = typer.Argument(..., exists=True, dir_okay=False, help="JSON: {institutions, capacities, integration_rights, services, routed_providers, authorizations, applications}.")) -> None:
    """Put a whole registry document through the same checks as the admin API (each change audited)."""
    from ..bootstrap import bootstrap
    from .registry_document import load_document

    async def run():
        hub = await bootstrap(_settings())
        try:
            return await load_document(hub.registry, json.loads(file.read_text()))
        finally:
            await hub.close()

    counts = asyncio.run(run())
    out.print(", ".join(f"{n} {kind}" for kind, n in counts.items()))


def _registry_change(change) -> None:
    """Run one registry use case against the store, as the admin API would (checked, audited)."""
    from ..bootstrap import bootstrap

    async def run():
        hub = await bootstrap(_settings())
        try:
            return await change(hub.registry)
        finally:
            await hub.close()

    try:
        asyncio.run(run())
    except Refusal as refusal:
        console.print(f"[red]{refusal.code}[/red]: {refusal.message}")
        raise typer.Exit(1) from None


@registry_app.command("grant")
def registry_grant(
    institution: str = typer.Argument(..., help="Enterprise number of the institution."),
    capacity: str = typer.Argument(..., help="Capacity code it may integrate persons in."),
    legal_basis: str = typer.Option("", help="The law or decision that licenses it."),
) -> None:
    """Let an institution integrate persons in a capacity (an integration right; audited)."""
    from ..domain.registry import IntegrationRight

    _registry_change(lambda admin: admin.put_integration_right(IntegrationRight(institution, capacity, legal_basis)))
    out.print(f"{institution} may integrate persons as {capacity}")


@registry_app.command("revoke")
def registry_revoke(institution: str = typer.Argument(...), capacity: str = typer.Argument(...)) -> None:
    """Withdraw an integration right: the institution's entries in that capacity then count for nothing."""
    _registry_change(lambda admin: admin.delete("integration_right", (institution, capacity)))
    out.print(f"{institution} may no longer integrate persons as {capacity}")


@registry_app.command("provider")
def registry_provider(
    service: str = typer.Argument(..., help="Code of a routed service."),
    institution: str = typer.Argument(..., help="Enterprise number of the institution that provides it."),
    remove: bool = typer.Option(False, "--remove", help="Stop routing the service's requests to it."),
) -> None:
    """Register (or, with --remove, withdraw) an institution as a provider of a routed service."""
    from ..domain.registry import RoutedProvider

    if remove:
        _registry_change(lambda admin: admin.delete("routed_provider", (service, institution)))
        out.print(f"{institution} no longer provides {service}")
    else:
        _registry_change(lambda admin: admin.put_routed_provider(RoutedProvider(service, institution)))
        out.print(f"{institution} provides {service}")


@app.command()
def openapi(output: Optional[Path] = typer.Option(None, help="Write to this file instead of standard output.")) -> None:
    """Print the hub's OpenAPI document (docs/openapi.json is this, kept current by a test)."""
    from .api.app import create_app

    text = json.dumps(create_app(_settings()).openapi(), indent=2, sort_keys=True) + "\n"
    if output is None:
        out.print(text, soft_wrap=True, highlight=False, markup=False)
    else:
        output.write_text(text)


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Create a new hub signing key; older keys stay in the JWKS until removed."""
    from ..adapters.keys import HubKeys

    path = HubKeys.rotate(_settings().data_dir / "keys")
    out.print(f"new signing key {path}; restart the hub processes to sign with it")


@keys_app.command("generate")
def keys_generate(alg: str = typer.Option("Ed25519", help="Ed25519 or ES256."),
                  private: Path = typer.Option(..., help="Where to write the private JWK (mode 600).")) -> None:
    """Generate an application key pair; print the public JWK Set to register."""
    from ..adapters.keys import generate_application_key, public_jwk

    key = generate_application_key(alg)
    private.write_text(json.dumps(key))
    private.chmod(0o600)
    out.print_json(json.dumps({"keys": [public_jwk(key)]}))


@audit_app.command("verify")
def audit_verify(
    sequence: bool = typer.Option(True, help="First give pending entries their leaf index and sign a head."),
) -> None:
    """Recompute the audit tree from the stored entries; check every stored node and signed tree head.

    Exits 1 and names the first entry concerned when anything was modified, removed, inserted or
    reordered, or when a tree head does not verify.
    """
    from ..bootstrap import bootstrap

    settings = _settings()

    async def run():
        hub = await bootstrap(settings)
        try:
            if sequence:
                while await hub.sequencer.step():
                    pass
            total = await hub.store.transparency.size()
            with Progress(TextColumn("verifying"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,}"),
                          TimeElapsedColumn(), console=console) as bar:
                task = bar.add_task("verify", total=total)
                return await hub.auditor.verify(lambda n: bar.advance(task, n))
        finally:
            await hub.close()

    started = time.perf_counter()
    report = asyncio.run(run())
    elapsed = time.perf_counter() - started
    if report.problem is None:
        archived = f" (the first {report.archived:,} pruned: see the archive segments)" if report.archived else ""
        out.print(f"audit log verified: {report.entries:,} entries{archived}, {report.nodes:,} stored hashes, "
                  f"{report.heads:,} signed tree heads, in {elapsed:.1f} s")
        return
    problem = report.problem
    out.print(f"[red]audit log NOT verified[/red] at entry {problem.index:,} ({problem.kind}): {problem.message}")
    raise typer.Exit(1)


@audit_app.command("export")
def audit_export(
    to: Optional[Path] = typer.Option(None, help="Folder for the segment files (default: the audit_archive_dir setting)."),
) -> None:
    """Write the entries since the last export, up to the latest signed tree head, as one
    self-verifying segment file (gzip'd JSON lines), verified once written."""
    from ..bootstrap import bootstrap

    settings = _settings()
    folder = to or settings.archive_dir()

    async def run():
        hub = await bootstrap(settings)
        try:
            await hub.sequencer.sign_now()  # the segment ends at the newest entries
            return await hub.archive.export(folder)
        finally:
            await hub.close()

    segment = asyncio.run(run())
    if segment is None:
        out.print("nothing to export: no entries since the last segment")
        return
    out.print(f"exported entries {segment.start:,}–{segment.end - 1:,} to {folder / segment.file_name} (sha256 {segment.sha256})")


@audit_app.command("prune")
def audit_prune(
    retention_days: Optional[int] = typer.Option(None, min=1, help="Default: the audit_retention_days setting."),
    archive: Optional[Path] = typer.Option(None, help="Folder of the segment files (default: the audit_archive_dir setting)."),
) -> None:
    """Remove from the live store the exported entries older than the retention period, after
    checking their segment files; tree heads stay, and audit verify still checks them."""
    from ..bootstrap import bootstrap

    settings = _settings()
    days = retention_days or settings.audit_retention_days
    if days is None:
        console.print("[red]no retention period: pass --retention-days or set CROSSROADS_AUDIT_RETENTION_DAYS[/red]")
        raise typer.Exit(2)

    async def run():
        hub = await bootstrap(settings)
        try:
            return await hub.archive.prune(archive or settings.archive_dir(), days)
        finally:
            await hub.close()

    try:
        report = asyncio.run(run())
    except RuntimeError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1)
    if not report.segments:
        out.print(f"nothing to prune: the live log begins at entry {report.up_to:,}")
        return
    out.print(f"pruned {report.removed:,} entries of {len(report.segments)} segment(s); the live log begins at entry {report.up_to:,}")


@audit_app.command("check-segment")
def audit_check_segment(
    files: list[Path] = typer.Argument(..., help="Segment files, in order."),
    jwks: Optional[Path] = typer.Option(None, help="The hub's JWKS to trust (e.g. fetched from /.well-known/jwks.json); default: this hub's keys."),
) -> None:
    """Verify archive segments on their own, and that each one continues the one before."""
    import gzip

    from ..verifier import ProofError, verify_segment

    if jwks is not None:
        keys = json.loads(jwks.read_text())
    else:
        from ..adapters.keys import HubKeys

        folder = _settings().data_dir / "keys"
        if not folder.is_dir():
            console.print(f"[red]no hub keys in {folder}: pass --jwks with the key set you trust[/red]")
            raise typer.Exit(2)
        keys = HubKeys.load_or_create(folder).jwks()
    previous = None
    for path in files:
        try:
            with gzip.open(path, "rb") as lines:
                header = verify_segment(lines, keys)
            if previous is not None and header["start_head"] != previous["end_head"]:
                raise ProofError(f"it does not continue {previous['_path']} (its start head is not that one's end head)")
        except (ProofError, OSError) as exc:
            console.print(f"[red]{path}: NOT verified: {exc}[/red]")
            raise typer.Exit(1)
        header["_path"] = path
        previous = header
        out.print(f"{path}: entries {header['start']:,}–{header['end'] - 1:,} verified")


@app.command()
def witness(
    hub_jwks: Path = typer.Option(..., help="The watched hub's JWKS (its /.well-known/jwks.json), obtained out of band and pinned."),
    data: Path = typer.Option(Path("witness"), help="Folder for the witness's key and its ledger of countersigned heads."),
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8090),
) -> None:
    """Run a witness: countersign a hub's tree heads, each only after checking that it is
    consistent with the last one countersigned; refuse and keep the evidence of a split view."""
    import uvicorn

    from .witness import create_witness_app

    uvicorn.run(create_witness_app(data, json.loads(hub_jwks.read_text())), host=host, port=port, log_level="info")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def bench(ctx: typer.Context, name: str = typer.Argument(..., help="exchange or directory")) -> None:
    """Run a benchmark from the repository's bench/ folder (arguments pass through)."""
    folder = Path(__file__).resolve().parents[3] / "bench"
    script = folder / f"{name}.py"
    if not script.exists():
        console.print(f"[red]no benchmark {name!r} in {folder}[/red]")
        raise typer.Exit(2)
    raise typer.Exit(subprocess.call([sys.executable, str(script), *ctx.args]))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
