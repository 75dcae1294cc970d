"""The operator's commands that run or prepare a hub: `serve`, `migrate` (`--status`, in
migrate_status.py), `openapi` and `keys`.

`serve` and `migrate` create the store when it does not exist: they are how a hub is set up.
`serve` and `keys init` make the hub's first signing key; `keys rotate`, `activate` and `retire`
take a key through its life (adapters/key_folder.py, docs/operations.md#the-hubs-signing-keys).
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import typer

from ...config import Settings
from .output import fail, out
from .stores import settings, with_data_dir

keys_app = typer.Typer(help="Keys of the hub and of applications.", no_args_is_help=True)


def serve(
    host: str | None = typer.Option(None, help="Listen address (CROSSROADS_HOST)."),
    port: int | None = typer.Option(None, help="Listen port (CROSSROADS_PORT)."),
    workers: int | None = typer.Option(None, help="Hub processes (CROSSROADS_WORKERS)."),
) -> None:
    """Run the hub with the settings from the environment."""
    from ...config import refuse_demo_mode
    from ..logs import configure
    from ..metrics_folder import shared_metrics

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
    # The workers share one socket and each accepts its share of the waiting connections
    # (entrypoints/greedy_accept.py): they must know how many they are, whatever set it.
    os.environ["CROSSROADS_WORKERS"] = str(current.workers)
    log_config = configure(current.log_level)
    asyncio.run(_open_once(current))
    with shared_metrics(current.workers) as folder:
        _run(current, log_config, folder)


HUNG_WORKER_SECONDS = 30


def _run(current: Settings, log_config: dict, folder: Path | None) -> None:
    """uvicorn's `run`, with the hub's supervisor when there are several workers."""
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE

    from ..bounded_http import BoundedHttpToolsProtocol
    from ..metrics_folder import forget
    from ..supervisor import Supervisor

    config = uvicorn.Config(
        "crossroads.entrypoints.api.asgi:app",
        host=current.host,
        port=current.port,
        workers=current.workers,
        log_config=log_config,
        access_log=False,  # the hub writes its own (entrypoints/api/access_log.py)
        # uvloop, accepting every waiting connection at once (entrypoints/greedy_accept.py).
        loop="crossroads.entrypoints.greedy_accept:new_event_loop",
        http=BoundedHttpToolsProtocol,
        lifespan="on",
        backlog=2048,
        server_header=False,
        # The hub decides nothing on the client's address, so the proxy-header rewrite
        # uvicorn does on every request by default is work for nothing.
        proxy_headers=False,
        # How long a worker may leave the supervisor's ping unanswered before it is killed as
        # hung. uvicorn's 5 s killed a busy worker (and then its replacement, still importing)
        # on the shared 2-core machine at load 13 during the portal bench, resetting all its
        # connections; a worker that is really stuck is still replaced, within the half minute.
        timeout_worker_healthcheck=HUNG_WORKER_SECONDS,
    )
    if current.workers > 1:
        Supervisor(
            config,
            sockets=[config.bind_socket()],
            forget=(lambda pid: forget(folder, pid)) if folder else (lambda pid: None),
        ).run()
        return
    config.load_app()
    server = uvicorn.Server(config)
    server.run(sockets=[config.bind_socket()])  # bound here, so that it accepts greedily too
    if not server.started:
        raise typer.Exit(STARTUP_FAILURE)


async def _open_once(current: Settings) -> None:
    """Make the secrets and the first signing key (when there are none) and migrate the store
    once, before the worker processes start."""
    from ...adapters.sql.store import open_store
    from ...bootstrap import hub_keys, load_secrets

    load_secrets(current)
    hub_keys(current, create=True)
    store = await open_store(current.store_url)
    await store.close()


@with_data_dir
def migrate(
    status: bool = typer.Option(
        False, "--status", help="Only show the schema's version and what is pending."
    ),
) -> None:
    """Create or upgrade the store's schema."""
    if status:
        from .migrate_status import report

        raise typer.Exit(report(settings(), out))
    from ...adapters.sql.store import migrate_store

    applied = asyncio.run(migrate_store(settings().store_url))
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


@keys_app.command("init")
@with_data_dir
def keys_init() -> None:
    """Set up a new hub's data folder: its first signing key and its generated secrets."""
    from ...adapters.key_folder import KeyFolder, KeyLifecycleError
    from ...bootstrap import load_secrets

    current = settings()
    try:
        key = KeyFolder(current.data_dir / "keys").create_first()
    except KeyLifecycleError as exc:
        fail(f"{exc}: this data folder is set up already", 2)
    load_secrets(current)
    out.print(f"first signing key {key.kid} in {key.path}")


@keys_app.command("rotate")
@with_data_dir
def keys_rotate(
    activate_in: float | None = typer.Option(
        None,
        min=0,
        help="Hours until the new key signs (default: when `crossroads keys activate` says).",
    ),
) -> None:
    """Publish a new signing key, endorsed by the current one; it signs once activated."""
    import time

    from ...adapters.key_folder import KeyFolder, KeyLifecycleError, NoHubKey

    when = None if activate_in is None else time.time() + activate_in * 3600
    try:
        key = KeyFolder(settings().data_dir / "keys").publish_next(when)
    except (KeyLifecycleError, NoHubKey) as exc:
        fail(str(exc), 2)
    signs = (
        "when `crossroads keys activate` says"
        if when is None
        else time.strftime("from %Y-%m-%d %H:%M:%S UTC", time.gmtime(when))
    )
    out.print(
        f"next key {key.kid} published (each hub process within CROSSROADS_KEYS_RELOAD_SECONDS);"
        f" it signs {signs}"
    )


@keys_app.command("activate")
@with_data_dir
def keys_activate(
    kid: str | None = typer.Argument(None, help="The next key to activate (default: the oldest)."),
) -> None:
    """Make the next key current: each hub process signs with it once it reads the folder."""
    from ...adapters.key_folder import KeyFolder, KeyLifecycleError, NoHubKey

    try:
        key = KeyFolder(settings().data_dir / "keys").activate(kid)
    except (KeyLifecycleError, NoHubKey) as exc:
        fail(str(exc), 2)
    out.print(f"key {key.kid} is current; the one before it verifies until retired")


@keys_app.command("retire")
@with_data_dir
def keys_retire(
    kid: str | None = typer.Argument(None, help="The previous key to retire (default: all)."),
) -> None:
    """Destroy the private part of replaced keys; their public keys stay published, forever."""
    from ...adapters.key_folder import KeyFolder, KeyLifecycleError, NoHubKey

    try:
        retired = KeyFolder(settings().data_dir / "keys").retire(kid)
    except (KeyLifecycleError, NoHubKey) as exc:
        fail(str(exc), 2)
    for key in retired:
        out.print(f"key {key.kid} retired: verification only")


@keys_app.command("list")
@with_data_dir
def keys_list() -> None:
    """The hub's keys, oldest first, with their state."""
    import time

    from ...adapters.key_folder import KeyFolder, NoHubKey, states
    from .output import print_rows

    try:
        stored = KeyFolder(settings().data_dir / "keys").read()
    except NoHubKey as exc:
        fail(str(exc), 2)
    found = states(stored, time.time())

    def when(moment: float | None) -> str:
        return "" if not moment else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(moment))

    print_rows(
        "keys",
        ["kid", "state", "activates_at", "retired_at"],
        [[k.kid, found[k.kid], when(k.activates_at), when(k.retired_at)] for k in stored],
    )


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
