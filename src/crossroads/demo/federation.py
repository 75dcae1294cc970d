"""Two federated hubs, set up the way two operators would (docs/federation.md, "Setting it up"):
used by `crossroads demo --second-hub`, `crossroads bench federation` and the end-to-end tests.

The answering hub offers some of its services; the asking hub offers some of its members; each
pins the other (here with the keys the other publishes, where two real operators exchange them out
of band); the asking hub registers the answering hub in its own registry as the provider of a
local service per offered one, at the answering hub's hub-to-hub path, and its own authorizations
for its members on that local service (copied from theirs on the original, as an operator would
draft them). The answering hub's authorizations for the foreign members are its own: when both
hubs are seeded with the same country it already has them; when the answering hub keeps another
country (an Estonian hub B beside a Belgian A), its operator registers the foreign members and
authorizes them, drafting from the asking hub's authorizations, and integrates in its directory
the persons of its own that those members handle across the border (`hold_across`). Either way
the answering hub's operator records each offered member as the asking hub's (its `peer`), which
the answering hub requires of every member a peer's request names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from ..adapters.federation_folder import FederationFolder
from ..adapters.peer_subscription import subscribe_across
from ..domain.federation import Offer, PeerPin
from ..services.peer_mutations import local_code
from .people import DemoCountry

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
    _admit(asking, answering, members, services, authorizations, http)
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


_AUTHORIZATION_FIELDS = (
    "consumer",
    "service",
    "purpose",
    "legal_basis",
    "required_capacities",
    "allowed_fields",
    "valid_from",
    "valid_to",
    "accepts_provisional",
)


def _admit(
    asking: HubSide,
    answering: HubSide,
    members: list[str],
    codes: list[str],
    authorizations: list[dict],
    http: httpx.Client,
) -> None:
    """The answering hub's operator registers each of `members` it does not know (a member of a
    hub of another country) under its own number and name, and authorizes it on each of `codes`
    (services or mutation types of its own) as the asking hub authorizes it on the same code,
    unless it has an authorization of its own for that member and code already."""
    theirs = http.get(f"{answering.url}/admin/authorizations", headers=answering.admin).json()
    have = {(a["consumer"], a["service"]) for a in theirs}
    for member in members:
        known = http.get(f"{answering.url}/admin/institutions/{member}", headers=answering.admin)
        if known.status_code == 404:
            mine = http.get(f"{asking.url}/admin/institutions/{member}", headers=asking.admin)
            mine.raise_for_status()
            registered = {"name": mine.json()["name"], "member_class": "GOV", "base_url": None}
        else:
            known.raise_for_status()
            registered = {k: known.json()[k] for k in ("name", "member_class", "base_url")}
            registered["webhook_bases"] = known.json()["webhook_bases"]
        # Recorded as the asking hub's member: the answering hub answers a peer only for the
        # members it records for that very peer, whatever the peer's document lists.
        _put(
            http,
            f"{answering.url}/admin/institutions/{member}",
            answering.admin,
            {**registered, "peer": asking.instance},
        )
        for a in authorizations:
            if (
                a["consumer"] == member
                and a["service"] in codes
                and (member, a["service"]) not in have
            ):
                _put(
                    http,
                    f"{answering.url}/admin/authorizations/{a['reference']}-{asking.instance}",
                    answering.admin,
                    {k: a[k] for k in _AUTHORIZATION_FIELDS if k in a},
                )
                have.add((member, a["service"]))


def hold_across(
    answering: HubSide, member: str, capacity: str, subjects: list[str], http: httpx.Client
) -> None:
    """The answering hub's operator integrates `subjects` (its own identifiers) for `member` of
    the asking hub in `capacity`, with the integration right that takes: the condition for its
    mutations about them to reach that member (docs/federation.md, "Mutations across hubs"),
    for the persons the member handles across the border."""
    _put(
        http,
        f"{answering.url}/admin/integration-rights/{member}/{capacity}",
        answering.admin,
        {"legal_basis": "Agreement between the two hubs' countries on cross-border cases"},
    )
    lines = "".join(
        json.dumps(
            {"subject": s, "institution": member, "capacity": capacity, "start": "2024-01-01"}
        )
        + "\n"
        for s in subjects
    )
    answer = http.post(
        f"{answering.url}/v1/directory/import",
        headers={**answering.admin, "Content-Type": "application/jsonl"},
        content=lines,
    )
    if answer.status_code >= 300 or answer.json().get("errors"):
        raise RuntimeError(f"the directory import at {answering.url} answered {answer.text}")


def border_pairs(
    asking: DemoCountry, answering: DemoCountry, persons: int, count: int
) -> list[tuple[str, str]]:
    """Up to `count` persons of two demo countries of `persons` each who live or work across
    the border: (the asking country's identifier, the answering one's), each held definitively
    by the welfare office of both, the first being the asking country's first such person (the
    tour's example, `seed.example_subject`)."""
    mine = asking.held_by(asking.persons(persons), "welfare")
    theirs = answering.held_by(answering.persons(persons), "welfare")
    return list(zip(mine, theirs, strict=False))[:count]


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
            "peer": registered["peer"],
        },
    )
    _admit(
        asking,
        answering,
        [member],
        [code],
        http.get(f"{asking.url}/admin/authorizations", headers=asking.admin).json(),
        http,
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
