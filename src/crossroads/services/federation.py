"""Federation with peer hubs: this hub's signed document, and the checks on what a peer sends.

`Federation.document` is what `/.well-known/crossroads/federation` serves: this hub's instance,
address, keys and offer, signed with its current key, valid `lifetime_seconds` (re-signed well
before it expires, so a peer always finds a current one).

`Federation.check_request` is the first half of the answering hub's side of a cross-hub exchange
(docs/federation.md): the request names a pinned peer, is signed for this hub's own address by a
key believed for that peer, recently, once; the peer's current document lists the asking member,
this hub's registry records that member as one of that very peer's (a peer's document alone
never makes one of this hub's own members, or another peer's, answerable to it), and this hub
offers the service. The second half, this hub's authorization for that member and
its directory, is the exchange itself (services/exchange.py, with `via`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..domain.errors import Refusal
from ..domain.federation import (
    DOCUMENT_TYPE,
    FederationDocument,
    PeerPin,
    check_instance,
    read_document,
)
from ..domain.registry import Institution
from ..key_history import follow_key_history, signing_kid
from .clock import Clock
from .ports import FederationConfig, FederationJose, PeerDocuments, SeenRequests

log = logging.getLogger("crossroads.federation")
# A signature naming a key not believed makes the hub ask the peer for its key history; made-up
# key ids must not make it ask at every request.
HISTORY_INTERVAL_SECONDS = 30.0
MAX_SIGNATURE_AGE = 300  # seconds either side, as providers accept the hub's own signatures


@dataclass
class _PeerState:
    pin: PeerPin
    keys: dict[str, Any]  # believed: pinned, or endorsed from a pinned key by the history
    document: FederationDocument | None = None
    fetched_at: float = 0.0
    history_asked_at: float = float("-inf")


class Federation:
    def __init__(
        self,
        instance: str,
        url: str,
        config: FederationConfig,
        documents: PeerDocuments,
        jose: FederationJose,
        own_keys: Callable[[], dict[str, Any]],
        describe_services: Callable[[frozenset[str]], Awaitable[list[dict[str, Any]]]],
        seen: SeenRequests,
        clock: Clock,
        registered: Callable[[str], Awaitable[Institution | None]],
        *,
        lifetime_seconds: int,
        refresh_seconds: float,
        scheme: str | None = None,
    ) -> None:
        """`describe_services` gives the offered services' public description (code, version,
        name, fields, schemas) from the registry; `own_keys` this hub's public JWKS; `seen` the
        requests peers signed that any process of this hub accepted (the store's); `scheme` the
        country whose identifier scheme this hub keeps (published, so that a peer's identifier
        authority can check the identifiers it links to this hub's); `registered` the institution
        this hub's registry holds under a number (its `peer`: the peer it is a member of)."""
        self.scheme = scheme
        self.instance = check_instance(instance)
        self.url = url.rstrip("/")
        self._config = config
        self._documents = documents
        self._jose = jose
        self._own_keys = own_keys
        self._describe = describe_services
        self._seen = seen
        self._clock = clock
        self._registered = registered
        self._lifetime = lifetime_seconds
        self._refresh = refresh_seconds
        self._signed: tuple[float, str] | None = None
        self._peers: dict[str, _PeerState] = {}
        self._fetching: dict[str, asyncio.Lock] = {}

    # --- this hub's document -------------------------------------------------------------------

    async def document(self) -> str:
        """This hub's federation document, signed again once a tenth of its life has passed."""
        now = self._clock.now()
        if self._signed is not None and now - self._signed[0] < self._lifetime / 10:
            return self._signed[1]
        offer = self._config.offer()
        claims = {
            "typ": DOCUMENT_TYPE,
            "instance": self.instance,
            "url": self.url,
            "iat": int(now),
            "exp": int(now) + self._lifetime,
            "jwks": self._own_keys(),
            "members": sorted(offer.members),
            "services": await self._describe(offer.services),
            **({"scheme": self.scheme} if self.scheme else {}),
        }
        compact = self._jose.sign_document(claims)
        self._signed = (now, compact)
        return compact

    def pin(self, instance: str) -> PeerPin:
        """The peer as the operator pinned it; Refusal unknown_peer when it is not."""
        return self._state(instance).pin

    async def peer_scheme(self, instance: str) -> str | None:
        """The identifier scheme (a country) the peer's current document declares, if any."""
        return (await self._document(self._state(instance))).scheme

    def peer_institution(self, number: str) -> str | None:
        """The instance of the peer registered here under `number`, if that institution is one."""
        for pin in self._config.peers().values():
            if pin.institution == number:
                return pin.instance
        return None

    # --- a peer's request ----------------------------------------------------------------------

    async def check_request(
        self,
        instance: str,
        url: str,
        body: bytes,
        signature: str | None,
        consumer: str,
        accepted: Callable[[str], object] | None = None,
    ) -> str:
        """The request id the peer signed, once the request is proved to be the peer's, for this
        address, fresh and new, about a member its current document offers and this hub's
        registry records as that peer's; Refusal otherwise (the service offered is checked by
        `check_service`). `accepted` is told the request id as soon as the request is proved
        the peer's and new, before the member is checked: the HTTP layer audits a refusal of
        the member under the id both hubs log."""
        state = self._state(instance)
        header = await self._verified(state, url, body, signature)
        now = self._clock.now()
        rid = header.get("rid")
        if not isinstance(rid, str) or not rid:
            raise Refusal("peer_untrusted", "the request's signature names no request id.")
        document = await self._document(state)
        # Kept while the signature is valid; later, `_verified` refuses it as too old anyway.
        expires_at = int(header["iat"]) + MAX_SIGNATURE_AGE
        if not await self._seen.first_use(f"{instance}:{rid}", expires_at, int(now)):
            raise Refusal("peer_untrusted", f"request {rid} from {instance} was already received.")
        if accepted is not None:
            accepted(rid)
        if consumer not in document.members:
            raise Refusal(
                "not_offered",
                f"the federation document of {instance} does not offer member {consumer}.",
                "consumer",
            )
        await self.check_member(instance, consumer)
        return rid

    async def check_member(self, instance: str, consumer: str) -> None:
        """Refusal not_peer_member unless this hub's registry records `consumer` as a member of
        peer `instance`. The peer's document is the peer's word alone: without this, a peer that
        lists one of this hub's own members (or another peer's) would be answered under that
        member's authorizations here. The sentence goes to the peer, so it does not say whose
        member the number is."""
        registered = await self._registered(consumer)
        if registered is None or registered.peer != instance:
            raise Refusal(
                "not_peer_member",
                f"institution {consumer} is not registered in this hub as a member of peer "
                f"{instance}; this hub's operator records a peer's members "
                "(crossroads federation member).",
                "consumer",
            )

    async def check_delivery(
        self, instance: str, url: str, body: bytes, signature: str | None
    ) -> str | None:
        """The number under which the peer is registered here (the publisher of its mutation
        types in this hub), once a push is proved to be the peer's, for this address, fresh.
        A push carries no request id: the same batch again is deduplicated by mutation id."""
        state = self._state(instance)
        await self._verified(state, url, body, signature)
        await self._document(state)  # the peer's document is current
        return state.pin.institution

    def webhook_of(self, instance: str) -> str:
        """Where this hub's pushes of a peer's member's subscriptions go: the peer's inbox."""
        return f"{self._state(instance).pin.url}/v1/federation/{self.instance}/mutations"

    async def _verified(
        self, state: _PeerState, url: str, body: bytes, signature: str | None
    ) -> dict[str, Any]:
        """The protected header of `signature` over `body`, by a key believed for the peer, for
        `url`, within MAX_SIGNATURE_AGE of now; Refusal peer_untrusted otherwise."""
        if not signature:
            raise Refusal("peer_untrusted", "the request carries no X-Crossroads-Signature.")
        keys = await self._keys_for(state, signature)
        header = self._jose.verify_request(signature, body, keys)
        if header.get("aud") != url:
            raise Refusal(
                "peer_untrusted", f"the request was signed for another address, not {url}."
            )
        issued = header.get("iat")
        if not isinstance(issued, int) or abs(self._clock.now() - issued) > MAX_SIGNATURE_AGE:
            raise Refusal(
                "peer_untrusted", "the request's signature is too old or from the future."
            )
        return header

    def check_service(self, service: str) -> None:
        if service not in self._config.offer().services:
            raise Refusal(
                "not_offered", f"this hub does not offer service {service} to its peers.", "service"
            )

    def _state(self, instance: str) -> _PeerState:
        pin = self._config.peers().get(instance)
        if pin is None:
            raise Refusal("unknown_peer", f"no peer hub {instance!r} is pinned here.", "instance")
        state = self._peers.get(instance)
        if state is None or state.pin != pin:  # pinned again: start from the new pin
            state = _PeerState(pin, follow_key_history(pin.jwks, {"keys": []}))
            self._peers[instance] = state
        return state

    async def _keys_for(self, state: _PeerState, signature: str) -> dict[str, Any]:
        """The peer's keys believed, after following its key history when `signature` names a
        key not believed yet (at most every HISTORY_INTERVAL_SECONDS)."""
        kid = signing_kid(signature)
        if kid is None or any(k.get("kid") == kid for k in state.keys["keys"]):
            return state.keys
        now = time.monotonic()
        if now - state.history_asked_at < HISTORY_INTERVAL_SECONDS:
            return state.keys
        state.history_asked_at = now
        try:
            history = await self._documents.key_history(state.pin.url)
        except Exception as exc:  # the peer unreachable: its request is refused, not trusted
            log.warning(
                "the key history of peer %s could not be fetched: %s", state.pin.instance, exc
            )
            return state.keys
        state.keys = follow_key_history(state.keys, history)
        return state.keys

    async def _document(self, state: _PeerState) -> FederationDocument:
        now = self._clock.now()
        current = state.document
        fresh = now - state.fetched_at < self._refresh
        if current is not None and fresh and current.expires_at > now:
            return current
        lock = self._fetching.setdefault(state.pin.instance, asyncio.Lock())
        async with lock:
            if state.document is not current and state.document is not None:
                return state.document  # another request fetched it meanwhile
            try:
                compact = await self._documents.document(state.pin.url)
                keys = await self._keys_for(state, compact)
                claims = self._jose.verify_document(compact, keys)
                state.document = read_document(claims, now, state.pin)
                state.fetched_at = now
            except Exception as exc:
                # A peer out of reach keeps its last document while that is current.
                if current is None or current.expires_at <= now:
                    if isinstance(exc, Refusal):
                        raise
                    raise Refusal(
                        "peer_document_expired",
                        f"no current federation document of {state.pin.instance} could be "
                        f"fetched ({exc.__class__.__name__}).",
                    ) from None
                log.warning(
                    "the document of peer %s could not be fetched again: %s",
                    state.pin.instance,
                    exc,
                )
                state.fetched_at = now
        assert state.document is not None
        return state.document
