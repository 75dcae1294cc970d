"""Mutations across federated hubs (docs/federation.md, "Mutations across hubs").

A member of hub A receives a mutation type published in hub B in two legs, each with its hub's
checks and guarantees:

1. *B to A.* Hub A asks hub B, signed, to subscribe its member (`subscribe`, on B): B checks the
   signature, the member in A's document and recorded in B's registry as A's, the type in B's
   offer, and B's authorization for that member, then records a push subscription in the
   member's name whose webhook is A's inbox.
   B's fan-out, minimisation, retries and dead letters are B's own, unchanged.
2. *A to its member.* A's inbox (`receive`, on A) checks B's signature and republishes each event
   as the local type `b.CODE`, registered in A with hub B (its number in A's registry) as
   publisher, through A's own publishing: A's authorization for its member, A's directory, A's
   outbox. A answers B only once that publication is stored, so B retries until it is; a batch
   sent twice is accepted once, deduplicated by mutation id.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson

from ..domain import unique_keys
from ..domain.callers import Caller
from ..domain.errors import Refusal
from ..domain.mutations import PEER_APPLICATION_PREFIX, Subscription
from .federation import Federation
from .identifier_links import IdentifierLinks
from .mutations import MutationService, Published

_EVENT_TYPE = re.compile(r"^be\.crossroads\.(?P<code>[A-Za-z0-9._-]+)\.v(?P<version>[A-Za-z0-9]+)$")


def local_code(peer: str, code: str) -> str:
    """The code under which a hub registers a mutation type or a service of its peer."""
    return f"{peer.lower()}.{code}"


class PeerMutations:
    def __init__(
        self,
        federation: Federation,
        mutations: MutationService,
        links: IdentifierLinks | None = None,
    ) -> None:
        """`links`: the identifier links with peers of another scheme; an event from such a
        peer is published here about the person its link names."""
        self._federation = federation
        self._mutations = mutations
        self._links = links

    async def subscribe(
        self,
        peer: str,
        url: str,
        raw: bytes,
        signature: str | None,
        accepted: Callable[[str], object] | None = None,
    ) -> Subscription:
        """On the publishing hub: subscribe a member of `peer` (one this hub records as that
        peer's, Federation.check_request), pushing to the peer's inbox; `accepted` as there."""
        body = _object(raw)
        consumer, mutation_type, purpose = (
            _text(body, "consumer"),
            _text(body, "mutation_type"),
            _text(body, "purpose"),
        )
        await self._federation.check_request(peer, url, raw, signature, consumer, accepted)
        self._federation.check_service(mutation_type)
        caller = Caller(institution=consumer, application=PEER_APPLICATION_PREFIX + peer)
        return await self._mutations.subscribe(
            caller, mutation_type, purpose, None, "push", self._federation.webhook_of(peer)
        )

    async def receive(
        self, peer: str, url: str, raw: bytes, signature: str | None
    ) -> list[Published | Refusal]:
        """On the subscribing hub: publish a peer's pushed batch as its local types."""
        publisher = await self._federation.check_delivery(peer, url, raw, signature)
        if publisher is None:
            raise Refusal(
                "not_offered",
                f"peer {peer} is pinned without the number that registers it here "
                "(crossroads federation pin --institution).",
            )
        try:
            events = unique_keys.loads(raw)
        except unique_keys.DuplicateKey as exc:
            raise Refusal("malformed_request", f"{exc}.", exc.path) from None
        except orjson.JSONDecodeError:
            raise Refusal("malformed_request", "the body is a CloudEvents JSON batch.") from None
        if not isinstance(events, list):
            raise Refusal("malformed_request", "the body is a CloudEvents JSON batch.")
        mapped = self._links is not None and self._links.mapped(peer)
        by_type: dict[str, list[dict[str, Any]]] = {}
        outcomes: list[Published | Refusal] = []
        for event in events:
            code, item = _mutation(event)
            if mapped:
                assert self._links is not None
                try:
                    item["subject"] = await self._links.local_for_mutation(
                        peer, publisher, item["id"], item["subject"]
                    )
                except Refusal as refusal:
                    # Answered as refused in its place, so the peer counts it delivered: a link
                    # recorded later does not bring it back (docs/federation.md).
                    outcomes.append(refusal)
                    continue
            by_type.setdefault(local_code(peer, code), []).append(item)
        caller = Caller(institution=publisher, application="hub")
        for code, items in by_type.items():
            outcomes += await self._mutations.publish_many(caller, code, items)
        return outcomes


def _mutation(event: object) -> tuple[str, dict[str, Any]]:
    """(the peer's type code, the mutation as its publisher gave it) of one CloudEvent."""
    if not isinstance(event, dict):
        raise Refusal("malformed_request", "each event is a CloudEvent object.")
    found = _EVENT_TYPE.match(str(event.get("type", "")))
    if found is None:
        raise Refusal("malformed_request", "an event's type is not a Crossroads mutation type.")
    data = event.get("data")
    return found["code"], {
        "id": event.get("id"),
        "subject": event.get("subject"),
        "effective_date": event.get("effectivedate"),
        "version": found["version"],
        "payload": data if isinstance(data, dict) else {},
    }


def _object(raw: bytes) -> dict[str, Any]:
    try:
        body = unique_keys.loads(raw)
    except unique_keys.DuplicateKey as exc:
        raise Refusal("malformed_request", f"{exc}.", exc.path) from None
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        raise Refusal("malformed_request", "the body is a JSON object.")
    return body


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise Refusal("malformed_request", f"{name} is a non-empty string.", name)
    return value
