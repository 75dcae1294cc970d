"""Federation with peer hubs (docs/federation.md): this hub's signed federation document, and the
hub-to-hub route a peer forwards its members' exchanges to.

`POST /v1/federation/{peer}/exchange/{service}/{version}` is what a peer hub calls when one of its
members asks a service this hub offers: the peer registers this hub in its own registry as the
provider of that service, at this path, so the peer's exchange runs its own checks and forwards
here signed, as it forwards to any provider. This side then checks its own: the signature by a
key believed for the peer, the member in the peer's offer and recorded here as that peer's, the
service in this hub's offer, this hub's authorization for that member, and its own directory
where it routes, and audits the exchange under the peer's request id.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from ...domain.callers import Caller
from ...domain.errors import Refusal
from ...domain.federation import attested_capacities
from ...domain.periods import Period, parse_date
from ...services.exchange import ExchangeRequest
from ...services.federation import Federation
from ...services.peer_mutations import PeerMutations
from .answer_models import BatchResults
from .dependencies import hub_of
from .errors import openapi_errors
from .hub_router import HubRouter
from .json_input import JSONRoute, read_json
from .member_slots import member_slot
from .metrics import observe
from .openapi_models import Out, answers
from .responses import JSONBody

router = HubRouter(route_class=JSONRoute, tags=["federation"])
DOCUMENT_PATH = "/.well-known/crossroads/federation"
PEER_EXCHANGE_PATH = "/v1/federation/{peer}/exchange/{service}/{version}"

PEER_ERRORS = openapi_errors(
    "unknown_peer",
    "peer_untrusted",
    "peer_document_expired",
    "not_offered",
    "not_peer_member",
    "no_authorization",
    "authorization_expired",
    "capacity_mismatch",
    "invalid_identifier",
    "unknown_service",
    "malformed_request",
    "member_busy",
    "no_provider",
    "provider_unavailable",
    "provider_timeout",
    "provider_error",
    "invalid_provider_response",
    "not_found",
)


def _federation(request: Request) -> Federation:
    federation = hub_of(request).federation
    if federation is None:
        raise Refusal(
            "not_found", "this hub is not federated (CROSSROADS_FEDERATION_INSTANCE is unset)."
        )
    return federation


def _peer_mutations(request: Request) -> PeerMutations:
    _federation(request)  # refuses when the hub is not federated
    found = hub_of(request).peer_mutations
    assert found is not None  # built whenever the federation is
    return found


@router.get(
    DOCUMENT_PATH,
    summary="This hub's signed federation document: instance, keys, members and services offered",
    response_class=Response,
    responses={200: {"content": {"application/jose": {"schema": {"type": "string"}}}}},
)
async def federation_document(request: Request) -> Response:
    return Response(
        await _federation(request).document(),
        media_type="application/jose",
        headers={"Cache-Control": "max-age=60"},
    )


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise Refusal("malformed_request", f"{name} is a non-empty string.", name)
    return value


def _period(body: dict[str, Any]) -> Period | None:
    period = body.get("period")
    if period is None:
        return None
    if not isinstance(period, dict):
        raise Refusal("malformed_request", "period is an object with start and end.", "period")
    end = period.get("end")
    return Period(
        parse_date(period.get("start"), "period.start"),
        None if end is None else parse_date(end, "period.end"),
    )


@router.post(
    PEER_EXCHANGE_PATH,
    responses=PEER_ERRORS,
    summary="A peer hub forwards one of its members' exchanges (hub-to-hub, signed by the peer)",
)
async def peer_exchange(peer: str, service: str, version: str, request: Request) -> JSONBody:
    return await answer_peer_exchange(request, peer, service, version)


PEER_EXCHANGE_ROUTE = next(
    r for r in router.routes if getattr(r, "path", None) == PEER_EXCHANGE_PATH
)


async def answer_peer_exchange(request: Request, peer: str, service: str, version: str) -> JSONBody:
    """The peer's exchange over HTTP. Reached from `direct.DirectRoute`, past FastAPI's router;
    the route above documents it and serves it the same way if reached there."""
    federation = _federation(request)
    raw = await request.body()
    body = read_json(raw)
    if not isinstance(body, dict):
        raise Refusal("malformed_request", "the body is a JSON object.")
    consumer = _text(body, "consumer")
    url = federation.url + request.url.path
    rid = await federation.check_request(
        peer,
        url,
        raw,
        request.headers.get("x-crossroads-signature"),
        consumer,
        # One request id on both sides, refusals included, once it is proved the peer's.
        lambda signed: setattr(request.state, "request_id", signed),
    )
    if body.get("request_id") != rid:
        raise Refusal("peer_untrusted", "the body's request_id is not the one signed.")
    federation.check_service(service)
    user = body.get("user_id")
    exchange_request = ExchangeRequest(
        caller=Caller(institution=consumer, application=None),
        service=service,
        subject=body.get("subject"),
        purpose=body.get("purpose"),
        period=_period(body),
        version=version,
        parameters=body.get("parameters") or {},
        user_id=user if isinstance(user, str) else None,
        request_id=rid,
        via=peer,
        attested_capacities=attested_capacities(body.get("capacities", [])),
    )
    with member_slot(request, consumer), observe(service):
        result = await hub_of(request).exchange.handle(exchange_request)
    # The peer checks the answer against the service's response schema, as for any provider:
    # the first provider's answer here (a routed service asks each holder in this hub).
    answered = next(a for a in result.answers if a.error is None)
    return JSONBody(
        answered.data,
        headers={"X-Request-Id": rid, "X-Crossroads-Provider": answered.provider},
    )


class PeerSubscription(Out):
    id: str
    institution: str
    mutation_type: str
    authorization: str | None
    webhook_url: str | None


PEER_MUTATION_ERRORS = openapi_errors(
    "unknown_peer",
    "peer_untrusted",
    "peer_document_expired",
    "not_offered",
    "not_peer_member",
    "no_authorization",
    "authorization_expired",
    "unknown_mutation_type",
    "webhook_not_allowed",
    "conflict",
    "malformed_request",
    "not_found",
)


@router.post(
    "/v1/federation/{peer}/subscriptions",
    status_code=201,
    responses=answers(PeerSubscription, PEER_MUTATION_ERRORS, status=201),
    summary="A peer hub subscribes one of its members to a mutation type of this hub (signed)",
)
async def peer_subscribe(peer: str, request: Request) -> JSONBody:
    subscription = await _peer_mutations(request).subscribe(
        peer,
        _federation(request).url + request.url.path,
        await request.body(),
        request.headers.get("x-crossroads-signature"),
        lambda signed: setattr(request.state, "request_id", signed),
    )
    return JSONBody(
        {
            "id": subscription.id,
            "institution": subscription.institution,
            "mutation_type": subscription.mutation_type,
            "authorization": subscription.authorization,
            "webhook_url": subscription.webhook_url,
        },
        status_code=201,
    )


@router.post(
    "/v1/federation/{peer}/mutations",
    responses=answers(BatchResults, PEER_MUTATION_ERRORS),
    summary="A peer hub pushes mutations its members' subscriptions receive (signed)",
)
async def peer_mutations(peer: str, request: Request) -> JSONBody:
    outcomes = await _peer_mutations(request).receive(
        peer,
        _federation(request).url + request.url.path,
        await request.body(),
        request.headers.get("x-crossroads-signature"),
    )
    return JSONBody(
        {
            "results": [
                o.to_dict() if isinstance(o, Refusal) else {"id": o.id, "status": o.status}
                for o in outcomes
            ]
        }
    )
