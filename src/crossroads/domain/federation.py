"""Federation of hubs: what one hub offers another, and what it believes of the other.

Each hub publishes a signed *federation document* (docs/federation.md): its instance identifier,
its address, its public keys, the members of its own that may ask the other side, and the
services of its own that the other side's members may ask, with their schemas. It plays the part
of X-Road's shared global configuration, but between two peers: neither hub rules the other.

The operator of each hub *pins* the other (a `PeerPin`): its instance identifier, its address and
its public keys, obtained out of band; the peer's later keys are believed only when the peer's key
history endorses them from a pinned one (crossroads.key_history), and a document past its expiry
is not believed at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import Refusal
from .registry import check_code

DOCUMENT_TYPE = "crossroads-federation"


@dataclass(frozen=True)
class Offer:
    """What this hub offers its peers: member institutions that may ask across, and services of
    its own that the peers' members may ask (by code, every version)."""

    members: frozenset[str] = frozenset()
    services: frozenset[str] = frozenset()


@dataclass(frozen=True)
class PeerPin:
    """A peer as this hub's operator pinned it. `institution` is the number under which the peer
    hub is registered in this hub's own registry, as the provider of the services this hub's
    members ask across (None: this hub only answers the peer, never asks it)."""

    instance: str
    url: str
    jwks: dict[str, Any]
    institution: str | None = None
    # The institution of this hub that records identifier links with the peer
    # (domain/identifier_links.py); None: the two hubs share one identifier scheme, and a person
    # crosses the border under the same identifier.
    identifier_authority: str | None = None


@dataclass(frozen=True)
class FederationDocument:
    instance: str
    url: str
    issued_at: int
    expires_at: int
    jwks: dict[str, Any]
    members: frozenset[str]
    services: tuple[dict[str, Any], ...] = field(default=())
    scheme: str | None = None  # the country whose identifier scheme the peer keeps, if declared


def check_instance(value: object) -> str:
    """An instance identifier appears in paths and audit records: the codes' safe alphabet."""
    if not isinstance(value, str):
        raise Refusal("malformed_request", "the instance is a code.", "instance")
    return check_code(value, "instance")


def read_document(claims: dict[str, Any], now: float, expected: PeerPin) -> FederationDocument:
    """The document a verified payload states, refused unless it is a current federation document
    of the instance pinned, at the address pinned."""
    if claims.get("typ") != DOCUMENT_TYPE:
        raise Refusal("peer_untrusted", "the peer's document is not a federation document.")
    if claims.get("instance") != expected.instance or claims.get("url") != expected.url:
        raise Refusal(
            "peer_untrusted",
            f"the document names instance {claims.get('instance')!r} at {claims.get('url')!r}; "
            f"the operator pinned {expected.instance!r} at {expected.url!r}.",
        )
    issued, expires = claims.get("iat"), claims.get("exp")
    if not isinstance(issued, int) or not isinstance(expires, int) or isinstance(expires, bool):
        raise Refusal("peer_untrusted", "the peer's document has no issue or expiry time.")
    if expires <= now:
        raise Refusal(
            "peer_document_expired",
            f"the federation document of {expected.instance} expired; its hub must publish a new "
            "one (it does so on its own while it runs).",
        )
    members = claims.get("members")
    services = claims.get("services")
    jwks = claims.get("jwks")
    if not isinstance(members, list) or not isinstance(services, list):
        raise Refusal("peer_untrusted", "the peer's document lists no members or services.")
    if not isinstance(jwks, dict):
        raise Refusal("peer_untrusted", "the peer's document names no keys.")
    return FederationDocument(
        instance=expected.instance,
        url=expected.url,
        issued_at=issued,
        expires_at=expires,
        jwks=jwks,
        members=frozenset(str(m) for m in members),
        services=tuple(s for s in services if isinstance(s, dict)),
        scheme=claims["scheme"] if isinstance(claims.get("scheme"), str) else None,
    )


def attested_capacities(value: object) -> tuple[str, ...]:
    """The capacities in which the asking hub's directory holds the person for its member, as its
    signed request states them."""
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise Refusal("malformed_request", "capacities is a list of capacity codes.", "capacities")
    return tuple(check_code(c, "capacities") for c in value)
