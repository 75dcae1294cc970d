"""Two federated hubs, set up the way two operators would (docs/federation.md, "Setting it up"):
used by `crossroads demo --second-hub`, `crossroads bench federation` and the end-to-end tests.

The answering hub offers some of its services; the asking hub offers some of its members; each
pins the other (here with the keys the other publishes, where two real operators exchange them out
of band); the asking hub registers the answering hub in its own registry as the provider of a
local service per offered one, at the answering hub's hub-to-hub path, and its own authorizations
for its members on that local service (copied from theirs on the original, as an operator would
draft them). The answering hub's authorizations for the foreign members are its own: the demo
country already has them, both hubs being seeded with it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from ..adapters.federation_folder import FederationFolder
from ..adapters.peer_subscription import subscribe_across
from ..domain.federation import Offer, PeerPin
from ..services.peer_mutations import local_code

# The number under which the demo registers a peer hub in its own registry (a valid Belgian
# enterprise number that no member of the demo country has).
PEER_NUMBER = "0999000030"


@dataclass(frozen=True)
class HubSide:
    instance: str
    url: str  # the hub's CROSSROADS_ISSUER
    data_dir: Path
    admin_token: str

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}

    @property
    def folder(self) -> FederationFolder:
        return FederationFolder(self.data_dir / "federation")


def federate(
    asking: HubSide,
    answering: HubSide,
    members: list[str],
    services: list[str],
    http: httpx.Client,
) -> list[str]:
    """Let `members` of `asking` ask `services` of `answering`, through both hubs; returns the
    local service codes registered at `asking`. Both hubs run with their federation instance set;
    they see the folders' changes within a second or two."""
    offered = answering.folder.offer()
    answering.folder.write_offer(Offer(offered.members, offered.services | set(services)))
    offered = asking.folder.offer()
    asking.folder.write_offer(Offer(offered.members | set(members), offered.services))
    asking_keys = http.get(f"{asking.url}/.well-known/jwks.json").json()
    answering_keys = http.get(f"{answering.url}/.well-known/jwks.json").json()
    asking.folder.write_pin(PeerPin(answering.instance, answering.url, answering_keys, PEER_NUMBER))
    answering.folder.write_pin(PeerPin(asking.instance, asking.url, asking_keys))
    _put(
        http,
        f"{asking.url}/admin/institutions/{PEER_NUMBER}",
        asking.admin,
        {"name": f"Hub {answering.instance}", "member_class": "GOV", "base_url": answering.url},
    )
    registered = []
    authorizations = http.get(f"{asking.url}/admin/authorizations", headers=asking.admin).json()
    for code in services:
        found = http.get(f"{answering.url}/admin/services", headers=answering.admin).json()
        service = max((s for s in found if s["code"] == code), key=lambda s: s["version"])
        mine = local_code(answering.instance, code)
        _put(
            http,
            f"{asking.url}/admin/services/{mine}/{service['version']}",
            asking.admin,
            {
                "name": f"{service['name']} ({answering.instance})",
                "provider": PEER_NUMBER,
                "path": f"/v1/federation/{asking.instance}/exchange/{code}/{service['version']}",
                "request_schema": service["request_schema"],
                "response_schema": service["response_schema"],
                "response_fields": service["response_fields"],
            },
        )
        registered.append(mine)
        for a in authorizations:
            if a["service"] == code and a["consumer"] in members:
                _put(
                    http,
                    f"{asking.url}/admin/authorizations/{a['reference']}-{answering.instance}",
                    asking.admin,
                    {
                        "consumer": a["consumer"],
                        "service": mine,
                        "purpose": a["purpose"],
                        "legal_basis": a["legal_basis"],
                        "required_capacities": a["required_capacities"],
                        "allowed_fields": a["allowed_fields"],
                        "valid_from": a["valid_from"],
                        "valid_to": a["valid_to"],
                    },
                )
    return registered


def _put(http: httpx.Client, url: str, headers: dict[str, str], body: dict) -> None:
    answer = http.put(url, headers=headers, json=body)
    if answer.status_code >= 300:
        raise RuntimeError(f"PUT {url} answered {answer.status_code}: {answer.text}")


def federate_mutations(
    asking: HubSide, answering: HubSide, member: str, code: str, purpose: str, http: httpx.Client
) -> str:
    """Let `member` of `asking` receive mutation type `code` of `answering` (pinned already, by
    `federate`); returns the local type code the member then subscribes to at `asking`."""
    offered = answering.folder.offer()
    answering.folder.write_offer(Offer(offered.members, offered.services | {code}))
    # B's operator lets the member's pushes go to A's inbox (its webhooks are bounded by B's
    # registry, like any member's).
    registered = http.get(
        f"{answering.url}/admin/institutions/{member}", headers=answering.admin
    ).json()
    inbox = f"{asking.url}/v1/federation/{answering.instance}/"
    _put(
        http,
        f"{answering.url}/admin/institutions/{member}",
        answering.admin,
        {
            "name": registered["name"],
            "member_class": registered["member_class"],
            "base_url": registered["base_url"],
            "webhook_bases": sorted({*registered["webhook_bases"], inbox}),
        },
    )
    types = http.get(f"{answering.url}/admin/mutation-types", headers=answering.admin).json()
    kind = max((t for t in types if t["code"] == code), key=lambda t: t["version"])
    mine = local_code(answering.instance, code)
    # The payload arrives minimised by B's authorization: what B's schema requires may be absent.
    schema = {k: v for k, v in kind["schema"].items() if k != "required"}
    _put(
        http,
        f"{asking.url}/admin/mutation-types/{mine}/{kind['version']}",
        asking.admin,
        {
            "name": f"{kind['name']} ({answering.instance})",
            "publisher": PEER_NUMBER,
            "fields": kind["fields"],
            "schema": schema,
        },
    )
    authorizations = http.get(f"{asking.url}/admin/authorizations", headers=asking.admin).json()
    for a in authorizations:
        if a["service"] == code and a["consumer"] == member:
            _put(
                http,
                f"{asking.url}/admin/authorizations/{a['reference']}-{answering.instance}",
                asking.admin,
                {
                    **{k: a[k] for k in ("consumer", "purpose", "legal_basis", "valid_from")},
                    "service": mine,
                    "required_capacities": a["required_capacities"],
                    "allowed_fields": a["allowed_fields"],
                    "valid_to": a["valid_to"],
                },
            )
    subscribe_across(
        asking.instance, asking.data_dir / "keys", answering.url, member, code, purpose, http
    )
    return mine


def federate_identifiers(
    asking: HubSide, peer: str, authority: str, member: str, http: httpx.Client
) -> None:
    """Pin `peer` at `asking` as keeping identifiers of its own, with `authority` (an institution
    of `asking`) recording the links, and authorize `member` on the built-in service
    `federation.identifiers` as on each service of the peer it asks (same purpose, legal basis,
    capacities and validity): what the operator of a hub does for a neighbouring country
    (docs/federation.md, "Identifiers across the border")."""
    pin = asking.folder.peers()[peer]
    asking.folder.write_pin(replace(pin, identifier_authority=authority))
    authorizations = http.get(f"{asking.url}/admin/authorizations", headers=asking.admin).json()
    for a in authorizations:
        if a["consumer"] == member and a["service"].startswith(local_code(peer, "")):
            _put(
                http,
                f"{asking.url}/admin/authorizations/{a['reference']}-ID",
                asking.admin,
                {
                    **{k: a[k] for k in ("consumer", "purpose", "legal_basis", "valid_from")},
                    "service": "federation.identifiers",
                    "required_capacities": a["required_capacities"],
                    "allowed_fields": ["peer", "identifier", "authority"],
                    "valid_to": a["valid_to"],
                },
            )
