"""The commands an institution's application runs against a hub: `token`, `ask` and `mailbox`
(and the options every client command shares, `declare` included)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import typer

from .hub_client import DEFAULT_DATA_DIR, HubAddress, HubClient
from .output import fail, out, print_json_text, print_rows

HubOption = typer.Option(
    None,
    "--hub",
    envvar="CROSSROADS_HUB",
    show_default=False,
    help="The hub's base URL (default: the address `crossroads demo` recorded in "
    "--data-dir, else http://127.0.0.1:8000).",
)
DataDirOption = typer.Option(
    DEFAULT_DATA_DIR, help="The demo's folder: its applications' keys and its hub's address."
)
KeyOption = typer.Option(
    None, help="The application's private JWK (default: the demo's, in --data-dir)."
)


def connect(hub: Optional[str], data_dir: Path, timeout: float = 30) -> HubClient:
    return HubClient(HubAddress.of(hub, data_dir), timeout)


def token(
    client: str = typer.Option(..., help="client_id: ENTERPRISE_NUMBER:APPLICATION_CODE."),
    key: Optional[Path] = KeyOption,
    hub: Optional[str] = HubOption,
    data_dir: Path = DataDirOption,
) -> None:
    """Obtain an access token with a signed client assertion, and print it."""
    out.print(connect(hub, data_dir).token(client, key, data_dir), markup=False, highlight=False)


def ask(
    service: str = typer.Argument(..., help="Service code, e.g. person.identity."),
    subject: str = typer.Argument(..., help="The person's identifier."),
    purpose: str = typer.Option(..., help="Purpose code."),
    client: str = typer.Option(..., help="client_id of the asking application."),
    key: Optional[Path] = KeyOption,
    on: Optional[str] = typer.Option(None, "--date", help="Date of interest, YYYY-MM-DD."),
    user: Optional[str] = typer.Option(None, help="The official on whose behalf (X-Road-UserId)."),
    hub: Optional[str] = HubOption,
    data_dir: Path = DataDirOption,
) -> None:
    """Ask the hub a question, as an application, and print the answer; exit 1 when refused."""
    hub_client = connect(hub, data_dir)
    access = hub_client.token(client, key, data_dir)
    body = {"subject": subject, "purpose": purpose, **({"date": on} if on else {})}
    headers = {"Authorization": f"Bearer {access}", **({"X-Road-UserId": user} if user else {})}
    path = "/v1/holders" if service == "directory.holders" else f"/v1/exchange/{service}"
    response = hub_client.post(path, json=body, headers=headers)
    print_json_text(response.text)
    if response.status_code != 200:
        raise typer.Exit(1)


def mailbox(
    client: str = typer.Option(
        ..., help="client_id of the receiving application (its pull subscriptions' messages)."
    ),
    key: Optional[Path] = KeyOption,
    limit: int = typer.Option(20, min=1, max=1000, help="Messages per page."),
    ack: bool = typer.Option(
        False, "--ack", help="Acknowledge the messages shown (they leave the mailbox)."
    ),
    follow: bool = typer.Option(
        False,
        "--follow",
        help="Keep showing new messages as they arrive (with --ack), until Ctrl-C.",
    ),
    hub: Optional[str] = HubOption,
    data_dir: Path = DataDirOption,
) -> None:
    """Show an application's mailbox: the mutations waiting for it, oldest first.

    A table on a terminal; tab-separated lines, one a message, when piped.
    """
    if follow and not ack:
        fail("--follow needs --ack: without it the same messages would be shown again and again", 2)
    hub_client = connect(hub, data_dir)
    headers = {"Authorization": f"Bearer {hub_client.token(client, key, data_dir)}"}
    try:
        shown = _show_page(hub_client, client, headers, limit, ack, follow, first=True)
        while follow:
            shown |= _show_page(hub_client, client, headers, limit, ack, follow, first=not shown)
    except KeyboardInterrupt:  # Ctrl-C is how --follow is meant to end
        return


def _show_page(
    hub_client: HubClient,
    client: str,
    headers: dict,
    limit: int,
    ack: bool,
    follow: bool,
    first: bool,
) -> bool:
    """Show (and with `ack`, acknowledge) one page of the mailbox; True when something was shown
    (`first`: nothing was before, so a header goes above it)."""
    response = hub_client.get("/v1/mailbox", params={"limit": limit}, headers=headers)
    if response.status_code != 200:
        print_json_text(response.text)
        raise typer.Exit(1)
    messages = hub_client.json(response)["messages"]
    if messages or not follow:
        print_rows(
            f"mailbox of {client}",
            ("seq", "type", "subject", "effective", "id", "data"),
            [_row(message) for message in messages],
            first,
        )
    if ack and messages:
        acked = hub_client.post(
            "/v1/mailbox/ack", json={"seqs": [m["seq"] for m in messages]}, headers=headers
        )
        if acked.status_code != 200:
            print_json_text(acked.text)
            raise typer.Exit(1)
    if follow and len(messages) < limit:
        time.sleep(1.0)  # the mailbox is drained: ask again in a second
    return bool(messages) or not follow


def _row(message: dict) -> tuple[str, ...]:
    event = message["event"]
    return (
        str(message["seq"]),
        event["type"].removeprefix("be.crossroads."),
        event["subject"],
        event.get("effectivedate", ""),
        event["id"],
        json.dumps(event.get("data"), ensure_ascii=False, separators=(",", ":")),
    )
