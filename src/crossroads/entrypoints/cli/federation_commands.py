"""`crossroads federation`: the operator's side of federating two hubs (docs/federation.md).

`offer` says which members of this hub may ask across and which of its services the peers' members
may ask; `pin` records a peer (instance, address, public keys obtained out of band) in
DATA_DIR/federation, which the running hub processes read again within a second or two; `member`
records registered institutions as a pinned peer's members in the registry (a peer is answered
only for those); `show` prints the offer and the pins.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ...adapters.federation_folder import FederationFolder
from ...domain.errors import Refusal
from ...domain.federation import Offer, PeerPin, check_instance
from .output import err, fail, out
from .stores import settings, with_data_dir

federation_app = typer.Typer(
    help="Federation with peer hubs: this hub's offer, and the peers it pins.",
    no_args_is_help=True,
)


def _folder() -> FederationFolder:
    return FederationFolder(settings().data_dir / "federation")


@federation_app.command("offer")
@with_data_dir
def offer(
    member: list[str] = typer.Option([], help="An institution of this hub that may ask across."),
    service: list[str] = typer.Option([], help="A service code this hub offers its peers."),
    replace: bool = typer.Option(
        False, "--replace", help="Replace the offer instead of adding to it."
    ),
) -> None:
    """Add members and services to this hub's federation offer (published in its document)."""
    folder = _folder()
    current = Offer() if replace else folder.offer()
    folder.write_offer(Offer(current.members | set(member), current.services | set(service)))
    changed = folder.offer()
    out.print(f"offer: members {sorted(changed.members)}, services {sorted(changed.services)}")


@federation_app.command("pin")
@with_data_dir
def pin(
    instance: str = typer.Argument(..., help="The peer's instance identifier."),
    url: str = typer.Option(..., help="The peer hub's address (its CROSSROADS_ISSUER)."),
    jwks: Path = typer.Option(
        ..., help="The peer's public keys (its /.well-known/jwks.json), obtained out of band."
    ),
    institution: str | None = typer.Option(
        None,
        help="The number under which the peer hub is registered in this hub's registry, as the "
        "provider of the services this hub's members ask across.",
    ),
    identifier_authority: str | None = typer.Option(
        None,
        help="The institution of this hub that records identifier links with the peer, when the "
        "peer keeps another identifier scheme (docs/federation.md); unset: the same scheme.",
    ),
) -> None:
    """Pin a peer hub: its later keys are believed only when its key history endorses them."""
    try:
        check_instance(instance)
        keys = json.loads(jwks.read_text())
    except Refusal as refusal:
        fail(refusal.message, 2)
    except (OSError, ValueError) as exc:
        fail(f"cannot read the peer's keys from {jwks}: {exc}", 2)
    if not isinstance(keys, dict) or not keys.get("keys"):
        fail(f'{jwks} holds no JWKS (an object with a non-empty "keys" list)', 2)
    path = _folder().write_pin(
        PeerPin(instance, url.rstrip("/"), keys, institution, identifier_authority)
    )
    out.print(f"peer {instance} pinned in {path}")


@federation_app.command("member")
@with_data_dir
def member(
    peer: str | None = typer.Argument(
        None, help="The pinned peer whose members these are (omit with --own)."
    ),
    numbers: list[str] = typer.Option(
        ..., "--institution", help="A registered institution (repeat for several)."
    ),
    own: bool = typer.Option(
        False, "--own", help="Record them as members of this hub's own instead."
    ),
) -> None:
    """Record registered institutions as members of a pinned peer: that peer's requests are
    answered only for its members recorded here (audited, as the admin API's `peer`)."""
    from .registry_commands import on_registry

    if (peer is None) != own:
        fail("name the peer, or give --own (not both)", 2)

    async def record(admin):
        return [await admin.record_peer(number, peer) for number in numbers]

    for institution in on_registry(record):
        whose = f"peer {institution.peer}" if institution.peer else "this hub"
        out.print(f"{institution.enterprise_number} is a member of {whose}")


@federation_app.command("show")
@with_data_dir
def show() -> None:
    """This hub's offer and the peers it pins. The instance is CROSSROADS_FEDERATION_INSTANCE,
    else the one `crossroads demo --second-hub` gave its hub (recorded in the folder's hub.json),
    else null: the hub is not federated."""
    from .hub_client import recorded_instance

    folder = _folder()
    current = folder.offer()
    peers = folder.peers()
    instance = settings().federation_instance or recorded_instance(settings().data_dir)
    if instance is None:
        err.print(
            "CROSSROADS_FEDERATION_INSTANCE is unset (and no demo recorded one in "
            f"{settings().data_dir}): this hub publishes no federation document",
            highlight=False,
        )
    out.print_json(
        json.dumps(
            {
                "instance": instance,
                "offer": {
                    "members": sorted(current.members),
                    "services": sorted(current.services),
                },
                "peers": {
                    p.instance: {
                        "url": p.url,
                        "institution": p.institution,
                        "identifier_authority": p.identifier_authority,
                        "keys": [k.get("kid") for k in p.jwks.get("keys", [])],
                    }
                    for p in peers.values()
                },
            }
        )
    )


@federation_app.command("subscribe")
@with_data_dir
def subscribe(
    peer: str = typer.Argument(..., help="The pinned peer that publishes the mutation type."),
    member: str = typer.Option(..., help="The member of this hub to subscribe."),
    mutation_type: str = typer.Option(..., "--type", help="The peer's mutation type code."),
    purpose: str = typer.Option(..., help="The purpose the peer's authorization names."),
) -> None:
    """Ask a peer hub, signed with this hub's key, to push a mutation type to this hub for one of
    its members (the member then subscribes here to the local type, e.g. b.CODE)."""
    import httpx

    from ...adapters.peer_subscription import subscribe_across

    current = settings()
    pin = _folder().peers().get(peer)
    if pin is None or current.federation_instance is None:
        fail(f"peer {peer!r} is not pinned here, or CROSSROADS_FEDERATION_INSTANCE is unset", 2)
    with httpx.Client(timeout=10) as http:
        status = subscribe_across(
            current.federation_instance,
            current.data_dir / "keys",
            pin.url,
            member,
            mutation_type,
            purpose,
            http,
        )
    out.print("subscribed" if status == 201 else "already subscribed")
