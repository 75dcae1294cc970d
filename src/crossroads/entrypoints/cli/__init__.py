"""The `crossroads` command line (Typer + Rich): the commands, one module per concept, gathered
into one Typer app here. `main` is the console script pyproject.toml names.

- hub_commands: serve, migrate, openapi, keys (running and preparing a hub)
- demo/: demo, providers (the demo country, its sources and the tour)
- client_commands, declare_command: token, ask, mailbox, declare (an application calling a hub)
- registry_commands: registry …, directory import (the operator's changes, on the store)
- operator_commands: operators … (on the store), admin call (the admin API, as a service account)
- audit_commands: audit …, witness
- restore_commands: backup, audit restore-check, audit restore-recover
- statistics_commands: statistics ask, extract, publish
- rights_commands: rights rules, simulate, decisions, confirm, refuse, non-take-up, evaluate, scan
- bench_command: bench
- federation_commands: federation offer, pin, show (peer hubs)
"""

from __future__ import annotations

import typer
from rich.text import Text

from ...adapters.sql.audit_file import AuditFileRefused
from .audit_commands import audit_app, witness
from .bench_command import HELP as BENCH_HELP
from .bench_command import bench
from .client_commands import ask, mailbox, token
from .declare_command import declare
from .demo import demo, providers
from .federation_commands import federation_app
from .hub_commands import keys_app, migrate, openapi, serve
from .operator_commands import admin_app, operators_app
from .output import err
from .registry_commands import directory_app, registry_app
from .restore_commands import backup
from .rights_commands import rights_app
from .session_commands import sessions_app
from .statistics_commands import statistics_app

app = typer.Typer(
    help="Crossroads: a crossroads bank for government data exchange.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
for command in (serve, migrate, demo, providers, token, ask, declare, mailbox):
    app.command()(command)
app.add_typer(directory_app, name="directory")
app.add_typer(registry_app, name="registry")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
app.add_typer(operators_app, name="operators")
app.add_typer(admin_app, name="admin")
app.add_typer(sessions_app, name="sessions")
app.add_typer(statistics_app, name="statistics")
app.add_typer(rights_app, name="rights")
app.add_typer(federation_app, name="federation")
app.command()(openapi)
app.command()(witness)
app.command()(backup)
app.command(
    help=BENCH_HELP, context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)(bench)


def main() -> None:
    try:
        app()
    except AuditFileRefused as refused:  # from any command that opens a SQLite store
        err.print(Text(str(refused), style="red"), highlight=False)
        raise SystemExit(2) from None


__all__ = ["app", "main"]
