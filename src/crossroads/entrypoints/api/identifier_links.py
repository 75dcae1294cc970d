"""Identifier links with peer hubs of another scheme (docs/federation.md, "Identifiers across the
border"): the identifier authority's routes to record and withdraw them, and the built-in service
`federation.identifiers` that a member asks, authorized and audited as any exchange.

The person's identifiers travel in the bodies, never in the paths: a path is what access logs and
traces keep.
"""

from __future__ import annotations

from dataclasses import replace

from fastapi import Depends, Request
from fastapi.responses import Response
from pydantic import Field

from ...domain.callers import Caller
from ...domain.errors import Refusal
from ...domain.identifier_links import IDENTIFIERS_SERVICE
from ...services.identifier_links import IdentifierLinks
from .dependencies import ExchangeDep, hub_of
from .errors import openapi_errors
from .exchange import EXCHANGE_ERRORS, exchange_request, render_answer
from .hub_router import HubRouter
from .json_input import JSONRoute
from .member_slots import member_slot
from .metrics import observe
from .openapi_models import Out, answers
from .responses import JSONBody
from .schemas import ExchangeOut, HoldersIn, Strict
from .security import member_application

router = HubRouter(route_class=JSONRoute, tags=["federation"])

LINK_ERRORS = openapi_errors(
    "unauthenticated",
    "member_busy",
    "unknown_peer",
    "not_identifier_authority",
    "no_identifier_link",
    "invalid_identifier",
    "conflict",
    "malformed_request",
    "peer_document_expired",
    "not_found",
)
LOOKUP_ERRORS = {
    **EXCHANGE_ERRORS,
    **openapi_errors("unknown_peer", "no_identifier_link"),
}


class LinkIn(Strict):
    subject: str = Field(max_length=64, description="The person's identifier in this hub.")
    identifier: str = Field(max_length=64, description="The identifier the peer hub knows.")


class LinkSubjectIn(Strict):
    subject: str = Field(max_length=64)


class LinkOut(Out):
    peer: str
    subject: str
    identifier: str
    authority: str
    recorded_at_ms: int


def _links(request: Request) -> IdentifierLinks:
    links = hub_of(request).identifier_links
    if links is None:
        raise Refusal(
            "not_found", "this hub is not federated (CROSSROADS_FEDERATION_INSTANCE is unset)."
        )
    return links


@router.post(
    "/v1/identifiers/{peer}/links",
    status_code=201,
    responses=answers(LinkOut, LINK_ERRORS, status=201),
    summary="The peer's identifier authority links a person's identifier here with the peer's",
)
async def record_link(
    peer: str, body: LinkIn, request: Request, caller: Caller = Depends(member_application)
) -> JSONBody:
    link = await _links(request).record(caller, peer, body.subject, body.identifier)
    return JSONBody(
        {
            "peer": link.peer,
            "subject": link.local,
            "identifier": link.remote,
            "authority": link.authority,
            "recorded_at_ms": link.recorded_at_ms,
        },
        status_code=201,
    )


@router.post(
    "/v1/identifiers/{peer}/links/withdraw",
    status_code=204,
    responses=LINK_ERRORS,
    summary="The peer's identifier authority withdraws a person's identifier link",
)
async def withdraw_link(
    peer: str, body: LinkSubjectIn, request: Request, caller: Caller = Depends(member_application)
) -> Response:
    await _links(request).withdraw(caller, peer, body.subject)
    return Response(status_code=204)


@router.post(
    "/v1/identifiers/{peer}",
    response_model=ExchangeOut,
    responses=LOOKUP_ERRORS,
    summary="The identifier a peer hub knows a person by (built-in service federation.identifiers)",
)
async def lookup_link(
    peer: str,
    body: HoldersIn,
    request: Request,
    exchange: ExchangeDep,
    caller: Caller = Depends(member_application),
) -> JSONBody:
    _links(request).mapped(peer)  # unknown_peer when it is not pinned
    asked = replace(
        exchange_request(request, caller, IDENTIFIERS_SERVICE, body), parameters={"peer": peer}
    )
    with member_slot(request, caller.institution), observe(IDENTIFIERS_SERVICE):
        result = await exchange.identifier_link(asked)
    return render_answer(result, request, await request.body())
