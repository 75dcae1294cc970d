"""`crossroads operators …` and `crossroads admin …`: who administers a hub, and the admin API
called as one of them.

`operators` works straight on the hub's store, through the same use case (checked, audited) as
`PUT /admin/operators/{id}`, with the actor `cli:USER`: it bootstraps the first admin on a hub
whose static admin token is disabled, and makes service accounts with a new key. `admin` calls a
running hub's admin API as a service account: it gets an operator token with the account's own
key (client credentials with private_key_jwt, as an application does) and sends one request.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from pathlib import Path

import typer

from ...domain.errors import Refusal
from .client_commands import DataDirOption, HubOption, connect
from .output import fail, out, print_json_text, print_rows
from .stores import require_store, settings, with_data_dir

operators_app = typer.Typer(
    help="Operators and service accounts of a hub, on its store.", no_args_is_help=True
)
admin_app = typer.Typer(
    help="Call a hub's admin API as a service account (its own key).", no_args_is_help=True
)
RoleOption = typer.Option(
    ..., "--role", help="read-only, auditor, registry-editor, approver or admin (repeatable)."
)


def cli_actor() -> str:
    """Who the audit records of a command run on the store name: the system user running it."""
    return f"cli:{getpass.getuser()}"


def on_store_as_cli(use):
    """Run `use(hub, actor)` on a hub bootstrapped on the store, as the system user with every
    permission (`cli:USER`, the actor its audit records name); a refusal ends the command with
    its code and sentence."""
    from ...bootstrap import bootstrap
    from ...domain.operators import Actor, Role

    current = require_store(settings())

    async def run():
        hub = await bootstrap(current)
        try:
            return await use(hub, Actor(cli_actor(), frozenset({Role.ADMIN})))
        finally:
            await hub.close()

    try:
        return asyncio.run(run())
    except Refusal as refusal:
        fail(f"{refusal.code}: {refusal.message}")


def _on_operators(change):
    return on_store_as_cli(lambda hub, actor: change(hub.operators, actor))


@operators_app.command("put")
@with_data_dir
def operators_put(
    operator_id: str = typer.Argument(..., help="person:SUBJECT (the identity provider's sub)."),
    roles: list[str] = RoleOption,
    inactive: bool = typer.Option(False, "--inactive", help="Registered, but with no rights."),
) -> None:
    """Register a person as an operator with roles (audited as cli:USER)."""
    from ...domain.operators import Operator, parse_roles

    def change(operators, actor):
        return operators.put(Operator(operator_id, parse_roles(roles), not inactive), actor)

    _on_operators(change)
    out.print(f"{operator_id}: {', '.join(roles)}{' (inactive)' if inactive else ''}")


@operators_app.command("add-service")
@with_data_dir
def operators_add_service(
    name: str = typer.Argument(..., help="The service account's name: its id is service:NAME."),
    roles: list[str] = RoleOption,
    key_out: Path = typer.Option(..., help="Write the account's new private key (JWK) here."),
) -> None:
    """Make a service account with a new key pair: the public key registered, the private key
    written to --key-out (mode 600)."""
    from ...adapters.keys import generate_application_key, public_jwk
    from ...domain.operators import Operator, parse_roles

    if key_out.exists():
        fail(f"{key_out} exists: choose another --key-out (a key is never overwritten)", 2)
    private = generate_application_key()
    operator_id = f"service:{name}"

    def change(operators, actor):
        jwks = {"keys": [public_jwk(private)]}
        return operators.put(Operator(operator_id, parse_roles(roles), True, jwks), actor)

    _on_operators(change)
    key_out.parent.mkdir(parents=True, exist_ok=True)
    key_out.write_text(json.dumps(private))
    key_out.chmod(0o600)
    out.print(f"{operator_id}: {', '.join(roles)}; private key in {key_out}")


@operators_app.command("list")
@with_data_dir
def operators_list() -> None:
    """List operators and service accounts with their roles."""

    async def listing(operators, actor):
        return await operators.list()

    rows = _on_operators(listing)
    print_rows(
        "operators",
        ["id", "roles", "active"],
        [[o.id, ", ".join(r.value for r in o.roles), str(o.active)] for o in rows],
    )


@admin_app.command("call")
def admin_call(
    method: str = typer.Argument(..., help="GET, PUT, POST or DELETE."),
    path: str = typer.Argument(..., help="A path of the admin API, e.g. /admin/institutions."),
    account: str = typer.Option(..., help="The service account: service:NAME."),
    key: Path = typer.Option(..., exists=True, dir_okay=False, help="Its private JWK."),
    body: str | None = typer.Option(None, help="JSON body, or @FILE, or - for standard input."),
    hub: str | None = HubOption,
    data_dir: Path = DataDirOption,
) -> None:
    """Send one request to the admin API as a service account and print the answer; exit 1 when
    it is refused."""
    if method.upper() not in ("GET", "PUT", "POST", "DELETE"):
        fail(f"unknown method {method!r}: GET, PUT, POST or DELETE", 2)
    if not path.startswith(("/admin/", "/v1/audit/")):
        fail("the path is one of the admin API's: /admin/… (or /v1/audit/entries/…)", 2)
    client = connect(hub, data_dir)
    access = client.token(account, key, data_dir)
    content = None
    if body is not None:
        text = sys.stdin.read() if body == "-" else body
        content = Path(text[1:]).read_text() if text.startswith("@") else text
    response = client.request(
        method.upper(),
        path,
        headers={
            "Authorization": f"Bearer {access}",
            **({"Content-Type": "application/json"} if content is not None else {}),
        },
        content=content,
    )
    if response.content:
        print_json_text(response.text)
    if response.status_code >= 400:
        raise typer.Exit(1)


@operators_app.command("rotate-admin-token")
@with_data_dir
def operators_rotate_admin_token() -> None:
    """Write a new static admin token where the hub reads it (CROSSROADS_ADMIN_TOKEN_FILE, else
    DATA_DIR/secrets.json) and print it; every hub process reading that file takes it within a
    second, and the old one is refused from then on."""
    import os
    import secrets

    from ... import config_sources

    current = settings()
    token = secrets.token_urlsafe(32)
    path = config_sources.secret_file("admin_token", os.environ)
    if current.admin_token is not None and path is None:
        fail("CROSSROADS_ADMIN_TOKEN is given in the variable itself: change it and restart", 2)
    if path is not None:
        with path.open("r+") as file:  # in place: a bind-mounted secret keeps its inode
            file.truncate(0)
            file.write(token + "\n")
    else:
        path = current.data_dir / "secrets.json"
        stored = json.loads(path.read_text()) if path.exists() else {}
        stored["admin_token"] = token
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored, indent=2))
        path.chmod(0o600)
    out.print(token, markup=False, highlight=False)
