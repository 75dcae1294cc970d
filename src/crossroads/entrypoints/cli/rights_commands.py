"""`crossroads rights …`: the rights engine of a running hub (docs/rights.md).

- `rules`, `simulate`: anyone (the rules with their legal bases; an anonymous simulation).
- `decisions`, `confirm`, `refuse`, `non-take-up`: a competent institution's application, with
  its access token, like `crossroads ask`.
- `evaluate`, `scan`: the operator's (CROSSROADS_ADMIN_TOKEN, else data_dir/secrets.json, as
  `crossroads statistics --hub` does).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import typer

from .client_commands import DataDirOption, HubOption, KeyOption, connect
from .output import fail, print_json_text

rights_app = typer.Typer(
    help="Rights granted without asking: rules, simulations, decisions, non-take-up.",
    no_args_is_help=True,
)
ClientOption = typer.Option(..., help="client_id of the institution's application.")


def _show(response: httpx.Response) -> None:
    print_json_text(response.text)
    if response.status_code != 200:
        raise typer.Exit(1)


@rights_app.command("rules")
def rules(hub: str | None = HubOption, data_dir: Path = DataDirOption) -> None:
    """The rights the hub's engine decides: rule version, legal bases, dated parameters."""
    _show(connect(hub, data_dir).get("/v1/rights/rules"))


@rights_app.command("simulate")
def simulate(
    income: float = typer.Option(..., help="The household's gross taxable income, yearly."),
    adults: int = typer.Option(1, help="Adults in the household."),
    children: int = typer.Option(0, help="Children in the household (a child to come too)."),
    child: bool = typer.Option(
        False, "--child", help="The person is one of the household's children."
    ),
    integration_income: bool = typer.Option(
        False, "--integration-income", help="Receives the integration income."
    ),
    income_guarantee: bool = typer.Option(
        False, "--income-guarantee", help="Receives the elderly's income guarantee."
    ),
    disability: bool = typer.Option(False, "--disability", help="Receives a disability allowance."),
    hub: str | None = HubOption,
    data_dir: Path = DataDirOption,
) -> None:
    """An anonymous simulation: the rights this situation gives, and why (nothing is kept)."""
    body = {
        "household_income": income,
        "adults": adults,
        "children": children,
        "child": child,
        "integration_income": integration_income,
        "income_guarantee_elderly": income_guarantee,
        "disability_allowance": disability,
    }
    _show(connect(hub, data_dir).post("/v1/rights/simulations", json=body))


def _as_institution(client: str, key: Path | None, hub: str | None, data_dir: Path):
    hub_client = connect(hub, data_dir)
    return hub_client, {"Authorization": f"Bearer {hub_client.token(client, key, data_dir)}"}


@rights_app.command("decisions")
def decisions(
    client: str = ClientOption,
    status: str | None = typer.Option(None, help="pending, confirmed or refused."),
    key: Path | None = KeyOption,
    hub: str | None = HubOption,
    data_dir: Path = DataDirOption,
) -> None:
    """The decisions the institution is competent for, newest first, each with its explanation."""
    hub_client, headers = _as_institution(client, key, hub, data_dir)
    params = {"status": status} if status else {}
    _show(hub_client.get("/v1/rights/decisions", params=params, headers=headers))


def _answer(verb: str, decision: str, client: str, reason, key, hub, data_dir) -> None:
    hub_client, headers = _as_institution(client, key, hub, data_dir)
    body = {"reason": reason} if reason else {}
    _show(hub_client.post(f"/v1/rights/decisions/{decision}/{verb}", json=body, headers=headers))


@rights_app.command("confirm")
def confirm(
    decision: str = typer.Argument(..., help="The decision's id."),
    client: str = ClientOption,
    reason: str | None = typer.Option(None, help="Shown to the person."),
    key: Path | None = KeyOption,
    hub: str | None = HubOption,
    data_dir: Path = DataDirOption,
) -> None:
    """Confirm a decision the institution is competent for."""
    _answer("confirm", decision, client, reason, key, hub, data_dir)


@rights_app.command("refuse")
def refuse(
    decision: str = typer.Argument(..., help="The decision's id."),
    client: str = ClientOption,
    reason: str | None = typer.Option(None, help="Why (shown to the person)."),
    key: Path | None = KeyOption,
    hub: str | None = HubOption,
    data_dir: Path = DataDirOption,
) -> None:
    """Refuse a decision the institution is competent for."""
    _answer("refuse", decision, client, reason, key, hub, data_dir)


@rights_app.command("non-take-up")
def non_take_up(
    client: str = ClientOption,
    key: Path | None = KeyOption,
    hub: str | None = HubOption,
    data_dir: Path = DataDirOption,
) -> None:
    """The persons a non-take-up scan found that the institution is competent for."""
    hub_client, headers = _as_institution(client, key, hub, data_dir)
    _show(hub_client.get("/v1/rights/non-take-up", headers=headers))


def _operator(hub: str | None, data_dir: Path, path: str, body: dict | None = None) -> None:
    token = os.environ.get("CROSSROADS_ADMIN_TOKEN")
    if not token:
        try:
            token = json.loads((data_dir / "secrets.json").read_text())["admin_token"]
        except (OSError, ValueError, KeyError, TypeError):
            fail(
                "set CROSSROADS_ADMIN_TOKEN to the hub's operator credential (or --data-dir to "
                "its data folder)",
                2,
            )
    headers = {"Authorization": f"Bearer {token}"}
    _show(connect(hub, data_dir, timeout=3600).post(path, json=body or {}, headers=headers))


@rights_app.command("evaluate")
def evaluate(
    subject: str = typer.Argument(..., help="The person's national number."),
    hub: str | None = HubOption,
    data_dir: Path = DataDirOption,
) -> None:
    """Re-evaluate one person's rights now, as a mutation about them would (operator)."""
    _operator(hub, data_dir, "/admin/rights/evaluate", {"subject": subject})


@rights_app.command("scan")
def scan(hub: str | None = HubOption, data_dir: Path = DataDirOption) -> None:
    """Scan the population for non-take-up; each finding goes to its competent institution."""
    _operator(hub, data_dir, "/admin/rights/scan")
