"""`crossroads statistics …`: the statistics warehouse (docs/statistics.md).

- `ask`: an analyst's application asks a hub for an aggregate (POST /v1/statistics/queries),
  with its access token, like `crossroads ask`.
- `extract`, `publish`: the operator's. On the store by default (the warehouse is written
  here, beside a running hub, whose processes keep answering from the marts' snapshots); with
  `--hub URL` the running hub is asked instead (POST /admin/statistics/…, with
  CROSSROADS_ADMIN_TOKEN, else data_dir/secrets.json). One process writes the warehouse at a
  time: while another extracts, `warehouse_unavailable`.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import typer

from ...domain.errors import Refusal
from .client_commands import DataDirOption, HubOption, KeyOption, connect
from .hub_client import HubAddress, HubClient
from .output import fail, out, print_json_text
from .stores import require_store, settings, with_data_dir

statistics_app = typer.Typer(
    help="The statistics warehouse: extract, ask for aggregates, publish open data.",
    no_args_is_help=True,
)
OperatorHubOption = typer.Option(
    None,
    "--hub",
    help="Ask this running hub (with CROSSROADS_ADMIN_TOKEN) instead of opening the store here.",
)


@statistics_app.command("ask")
def ask(
    mart: str = typer.Argument(..., help="The mart: employment, jobs, exchanges, …"),
    project: str = typer.Option(..., help="The project: the authorization's purpose."),
    client: str = typer.Option(..., help="client_id of the analyst's application."),
    by: list[str] = typer.Option([], "--by", help="A dimension to group by (repeatable)."),
    where: list[str] = typer.Option([], "--where", help="DIMENSION=VALUE (repeatable)."),
    aggregate: str = typer.Option("count", help="count, sum or mean."),
    measure: str | None = typer.Option(None, help="The measure summed (sum, mean)."),
    protection: str = typer.Option("suppression", help="suppression or dp."),
    epsilon: float | None = typer.Option(None, help="With dp: the budget this answer spends."),
    authorization: str | None = typer.Option(None, help="The authorization's reference."),
    key: Path | None = KeyOption,
    hub: str | None = HubOption,
    data_dir: Path = DataDirOption,
) -> None:
    """Ask for an aggregate of a mart, as an analyst's application; print the answer with its
    protection and budget; exit 1 when refused."""
    filters = {}
    for item in where:
        name, sep, value = item.partition("=")
        if not sep or not name:
            fail(f"--where {item!r}: write DIMENSION=VALUE", 2)
        filters[name] = value
    body = {
        "project": project,
        "mart": mart,
        "aggregate": aggregate,
        "dimensions": by,
        "filters": filters,
        "protection": protection,
        **({"measure": measure} if measure else {}),
        **({"epsilon": epsilon} if epsilon is not None else {}),
        **({"authorization": authorization} if authorization else {}),
    }
    hub_client = connect(hub, data_dir)
    headers = {"Authorization": f"Bearer {hub_client.token(client, key, data_dir)}"}
    response = hub_client.post("/v1/statistics/queries", json=body, headers=headers)
    print_json_text(response.text)
    if response.status_code != 200:
        raise typer.Exit(1)


@statistics_app.command("extract")
@with_data_dir
def extract(hub: str | None = OperatorHubOption) -> None:
    """Extract the stores' new records into the warehouse (pseudonymised, audited), rebuild the
    marts and write them as Parquet beside the published data."""
    if hub:
        _ask_hub(hub, "/admin/statistics/extract")
        return

    async def run(running):
        report = await running.statistics_extraction.run()
        return {"records": report.records, "positions": report.positions, "total": report.total}

    _print(_on_store(run))


@statistics_app.command("publish")
@with_data_dir
def publish(hub: str | None = OperatorHubOption) -> None:
    """Publish the operator's tables (CROSSROADS_STATISTICS_TABLES) as open data: CSV, Parquet
    and metadata, served at /statistics/open-data/ and charted at /statistics/."""
    if hub:
        _ask_hub(hub, "/admin/statistics/publish")
        return

    async def run(running):
        return {"tables": await running.statistics_publication.publish()}

    _print(_on_store(run))


def _on_store(use):
    from ...bootstrap import bootstrap

    current = require_store(settings())

    async def run():
        running = await bootstrap(current)
        try:
            return await use(running)
        finally:
            await running.close()

    try:
        return asyncio.run(run())
    except Refusal as refused:  # warehouse_unavailable: another process is extracting
        fail(f"{refused.code}: {refused.message}", 1)


def _admin_token() -> str | None:
    """CROSSROADS_ADMIN_TOKEN, else the one generated into data_dir/secrets.json."""
    given = os.environ.get("CROSSROADS_ADMIN_TOKEN")
    if given:
        return given
    try:
        return json.loads((settings().data_dir / "secrets.json").read_text())["admin_token"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _ask_hub(hub: str, path: str) -> None:
    token = _admin_token()
    if not token:
        fail(
            "set CROSSROADS_ADMIN_TOKEN to the hub's operator credential (or CROSSROADS_DATA_DIR "
            "to its data folder) to use --hub",
            2,
        )
    client = HubClient(HubAddress.of(hub, Path(".")), timeout=3600)
    response = client.post(path, headers={"Authorization": f"Bearer {token}"})
    print_json_text(response.text)
    if response.status_code != 200:
        raise typer.Exit(1)


def _print(result: dict) -> None:
    out.print_json(json.dumps(result))
