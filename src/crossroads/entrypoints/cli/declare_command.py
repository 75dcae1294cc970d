"""`crossroads declare`: an employer's declaration (DIMONA, DmfA, social risk) sent to the hub,
its status and anomalies shown one per line.

The kind is checked here, before anything is sent: a typo would otherwise come back from the hub
as an HTTP status about a route, not as the list of kinds there are.
"""

from __future__ import annotations

import difflib
import time
from pathlib import Path
from typing import Optional

import typer

from ...domain.declarations.social_risk import SCENARIOS
from ...services.declaration_batches import KINDS as BATCH_KINDS
from .client_commands import DataDirOption, HubOption, KeyOption, connect
from .output import err, fail, out

SINGLE_KINDS = ("dimona", "dmfa", *(f"social-risk/{scenario}" for scenario in SCENARIOS))


def check_kind(kind: str, batch: bool) -> None:
    """Stop with the kinds there are when `kind` is not one of them."""
    kinds = BATCH_KINDS if batch else SINGLE_KINDS
    if kind in kinds:
        return
    close = difflib.get_close_matches(kind, kinds, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    what = "batch file" if batch else "declaration"
    fail(f"unknown {what} kind {kind!r}{hint}, try one of: {', '.join(kinds)}", 2)


def declare(
    kind: str = typer.Argument(..., help=f"The declaration's kind: {', '.join(SINGLE_KINDS)}."),
    file: Path = typer.Argument(
        ...,
        exists=True,
        dir_okay=False,
        help="The declaration: official XML (.xml) or its JSON form (.json).",
    ),
    client: str = typer.Option(
        ..., help="client_id of the declaring application (the employer's or its payroll office's)."
    ),
    key: Optional[Path] = KeyOption,
    batch: bool = typer.Option(
        False,
        "--batch",
        help="Upload as a batch file (many forms, or a large "
        "DmfA; dimona or dmfa) and wait for its acknowledgement.",
    ),
    language: str = typer.Option("en", help="Language of the anomalies' labels: nl, fr or en."),
    hub: Optional[str] = HubOption,
    data_dir: Path = DataDirOption,
) -> None:
    """Send a declaration and show its status (A, W, B) and anomalies; exit 1 when refused."""
    check_kind(kind, batch)
    hub_client = connect(hub, data_dir, timeout=300)
    access = hub_client.token(client, key, data_dir)
    media = "application/xml" if file.suffix.lower() == ".xml" else "application/json"
    headers = {
        "Authorization": f"Bearer {access}",
        "Content-Type": media,
        "Accept-Language": language,
    }
    path = f"/v1/declarations/batches/{kind}" if batch else f"/v1/declarations/{kind}"
    response = hub_client.post(path, content=file.read_bytes(), headers=headers)
    if response.status_code not in (200, 201, 202):
        fail(f"refused ({response.status_code}): {response.text}")
    location = response.headers["location"]
    err.print(f"received: {hub_client.url}{location}", markup=False, highlight=False)
    refused = False
    if batch:
        status = hub_client.json(response)
        while status["result"] == "S":
            time.sleep(0.5)  # the batch worker has not finished: ask again
            status = hub_client.json(hub_client.get(location, headers=headers))
        answers = hub_client.json(hub_client.get(f"{location}/acknowledgement", headers=headers))
        declarations = answers.get("declarations", [])
        if "error" in answers:
            err.print(
                f"{answers['error']['code']}: {answers['error']['message']}",
                style="red",
                markup=False,
                highlight=False,
            )
        refused = answers["result"] == "B"
    else:
        declarations = [hub_client.json(response)]
    for declaration in declarations:
        show_declaration(declaration)
    if refused or any(d["result"] == "B" for d in declarations):
        raise typer.Exit(1)


def show_declaration(declaration: dict) -> None:
    """The status on one line, then each anomaly on its own (so that scripts can grep them)."""
    period = (
        f", DIMONA period {declaration['dimonaPeriodId']}"
        if declaration.get("dimonaPeriodId")
        else ""
    )
    colour = {"A": "green", "W": "yellow", "B": "red"}.get(declaration["result"], "white")
    out.print(
        f"declaration {declaration['declarationId']} ({declaration['form']}): "
        f"[{colour}]{declaration['result']}[/{colour}]{period}"
    )
    for anomaly in declaration["anomalies"]:
        detail = f" ({anomaly['detail'][:160]})" if anomaly.get("detail") else ""
        out.print(
            f"  {anomaly['errorId']} [{anomaly['severity']}] {anomaly['label']} at "
            f"{anomaly.get('path', '')}{detail}",
            markup=False,
            highlight=False,
        )
