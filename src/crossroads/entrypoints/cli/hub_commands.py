"""The operator's commands that run or prepare a hub: `serve`, `migrate` (`--status`, in
migrate_status.py), `openapi` and `keys`.

`serve` and `migrate` create the store when it does not exist: they are how a hub is set up.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import typer

from ...config import Settings
from .output import fail, out
from .stores import settings

keys_app = typer.Typer(help="Keys of the hub and of applications.", no_args_is_help=True)


def serve(
    host: str | None = typer.Option(None, help="Listen address (CROSSROADS_HOST)."),
    port: int | None = typer.Option(None, help="Listen port (CROSSROADS_PORT)."),
    workers: int | None = typer.Option(None, help="Hub processes (CROSSROADS_WORKERS)."),
) -> None:
    """Run the hub with the settings from the environment."""
    import uvicorn

    from ...config import refuse_demo_mode
    from ..bounded_http import BoundedHttpToolsProtocol
    from ..logs import configure

    current = settings(host=host, port=port, workers=workers)
    try:
        refuse_demo_mode(current)
    except SystemExit as refused:
        fail(f"configuration error: {refused}", 2)
    for name, value in (
        ("CROSSROADS_HOST", host),
        ("CROSSROADS_PORT", port),
        ("CROSSROADS_WORKERS", workers),
    ):
        if value is not None:
            os.environ[name] = str(
                value
            )  # worker processes read their settings from the environment
    log_config = configure(current.log_level)
    asyncio.run(_open_once(current))
    uvicorn.run(
        "crossroads.entrypoints.api.asgi:app",
        host=current.host,
        port=current.port,
        workers=current.workers,
        log_config=log_config,
        access_log=False,
        loop="uvloop",
        http=BoundedHttpToolsProtocol,
        lifespan="on",
        backlog=2048,
        server_header=False,
        # The hub decides nothing on the client's address, so the proxy-header rewrite
        # uvicorn does on every request by default is work for nothing.
        proxy_headers=False,
    )


async def _open_once(current: Settings) -> None:
    """Make the secrets and migrate the store once, before the worker processes start."""
    from ...adapters.sql.store import open_store
    from ...bootstrap import load_secrets

    load_secrets(current)
    store = await open_store(current.store_url)
    await store.close()


def migrate(
    status: bool = typer.Option(
        False, "--status", help="Only show the schema's version and what is pending."
    ),
) -> None:
    """Create or upgrade the store's schema."""
    if status:
        from .migrate_status import report

        raise typer.Exit(report(settings(), out))
    from ...adapters.sql.migrate import migrate as run_migrations
    from ...adapters.sql.store import open_store

    async def run() -> list[str]:
        store = await open_store(settings().store_url, run_migrations=False)
        try:
            return await run_migrations(store.db)
        finally:
            await store.close()

    applied = asyncio.run(run())
    out.print(f"applied: {', '.join(applied) if applied else 'nothing, the schema is current'}")


def openapi(
    output: Path | None = typer.Option(None, help="Write to this file instead of standard output."),
) -> None:
    """Print the hub's OpenAPI document (docs/openapi.json is this, kept current by a test)."""
    from ..api.app import create_app

    text = json.dumps(create_app(settings()).openapi(), indent=2, sort_keys=True) + "\n"
    if output is None:
        out.print(text, highlight=False, markup=False, end="")
    else:
        output.write_text(text)


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Create a new hub signing key; older keys stay in the JWKS until removed."""
    from ...adapters.keys import HubKeys

    path = HubKeys.rotate(settings().data_dir / "keys")
    out.print(f"new signing key {path}; restart the hub processes to sign with it")


@keys_app.command("generate")
def keys_generate(
    alg: str = typer.Option("Ed25519", help="Ed25519 or ES256."),
    private: Path = typer.Option(..., help="Where to write the private JWK (mode 600)."),
) -> None:
    """Generate an application key pair; print the public JWK Set to register."""
    from ...adapters.keys import generate_application_key, public_jwk

    key = generate_application_key(alg)
    private.write_text(json.dumps(key))
    private.chmod(0o600)
    out.print_json(json.dumps({"keys": [public_jwk(key)]}))
