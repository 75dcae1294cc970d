"""Mutations over HTTP: the catalogue of types, publishing, subscriptions, and the pull mailbox.

The shape follows the GovStack Information Mediator Pub/Sub API where it fits (event types with a
schema, publish returning an id, subscriptions per event type, pull and acknowledge), under the
hub's own authentication and with the reference directory deciding who receives what.
"""

from __future__ import annotations

from dataclasses import asdict

import orjson
from fastapi import Depends, Query, Request, Response
from fastapi.responses import Response as PlainResponse

from ...domain.callers import Caller
from ...domain.errors import Refusal
from ...domain.mutations import MutationType, Subscription, event_type
from ...services.mutations import Published
from .answer_models import (
    Acknowledged,
    BatchResults,
    DeadLetter,
    Dropped,
    Mailbox,
    MutationTypeOut,
    PublishedOut,
    Replayed,
)
from .dependencies import (
    ActorDep,
    MutationsDep,
    RefusalLogDep,
    RegistryQueriesDep,
    hub_of,
)
from .errors import openapi_errors, refused_request, request_id
from .hub_router import HubRouter
from .json_input import JSONRoute
from .openapi_models import answers
from .responses import JSONBody
from .schemas import MAX_INTEGER, AckIn, MutationBatchIn, MutationIn, MutationTypeIn, SubscriptionIn
from .security import member_application, operator

router = HubRouter(route_class=JSONRoute, tags=["mutations"])
ERRORS = openapi_errors(
    "unauthenticated",
    "member_busy",
    "forbidden",
    "malformed_request",
    "invalid_identifier",
    "invalid_period",
    "not_found",
    "unknown_mutation_type",
    "no_authorization",
    "authorization_expired",
    "conflict",
    "payload_too_large",
)


def _type_out(mutation_type: MutationType) -> dict:
    return {
        **{k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(mutation_type).items()},
        "event_type": event_type(mutation_type.code, mutation_type.version),
    }


def _subscription_out(subscription: Subscription) -> dict:
    return asdict(subscription)


def _published_out(published: Published) -> dict:
    # Field by field: `dataclasses.asdict` copies recursively, 3 µs a mutation of a batch.
    return {"id": published.id, "status": published.status, "recipients": published.recipients}


@router.put(
    "/admin/mutation-types/{code}/{version}",
    responses=answers(MutationTypeOut, ERRORS, also=(201,)),
    tags=["admin"],
    summary=(
        "Register a mutation type: its payload schema and fields, and the one authentic source"
        " that publishes it"
    ),
    dependencies=[Depends(operator)],
)
async def put_mutation_type(
    code: str,
    version: str,
    body: MutationTypeIn,
    mutations: MutationsDep,
    actor: ActorDep,
    response: Response,
) -> dict:
    mutation_type, created = await mutations.put_type(
        MutationType(
            code=code,
            version=version,
            name=body.name,
            publisher=body.publisher,
            fields=tuple(body.fields),
            schema=body.schema_,
            description=body.description,
            state_path=body.state_path,
            name_translations=dict(body.name_translations),
            description_translations=dict(body.description_translations),
        ),
        actor.id,
    )
    response.status_code = 201 if created else 200
    return _type_out(mutation_type)


@router.get(
    "/admin/mutation-types",
    responses=answers(list[MutationTypeOut], ERRORS),
    tags=["admin"],
    dependencies=[Depends(operator)],
    summary="The catalogue of mutation types, for the operator",
)
async def admin_mutation_types(queries: RegistryQueriesDep) -> list[dict]:
    return [_type_out(t) for t in await queries.mutation_types()]


@router.get(
    "/admin/mutation-types/{code}/{version}",
    responses=answers(MutationTypeOut, ERRORS),
    tags=["admin"],
    dependencies=[Depends(operator)],
    summary="One mutation type",
)
async def admin_mutation_type(code: str, version: str, queries: RegistryQueriesDep) -> dict:
    return _type_out(await queries.mutation_type(code, version))


@router.get(
    "/v1/mutation-types",
    responses=answers(list[MutationTypeOut], ERRORS),
    summary="The catalogue of mutation types",
)
async def list_mutation_types(
    queries: RegistryQueriesDep, caller: Caller = Depends(member_application)
) -> list[dict]:
    return [_type_out(t) for t in await queries.mutation_types()]


@router.post(
    "/v1/mutations/{mutation_type}",
    responses=answers(PublishedOut, ERRORS, 201, also=(200,)),
    status_code=201,
    summary=(
        "Publish one mutation (authentic sources): 201 when accepted, 200 when the id was"
        " accepted before"
    ),
)
async def publish(
    mutation_type: str,
    body: MutationIn,
    mutations: MutationsDep,
    response: Response,
    caller: Caller = Depends(member_application),
) -> dict:
    published = await mutations.publish(
        caller, mutation_type, body.model_dump(mode="json", exclude_none=True)
    )
    response.status_code = 201 if published.status == "accepted" else 200
    return _published_out(published)


@router.post(
    "/v1/mutations/{mutation_type}/batch",
    responses=answers(BatchResults, ERRORS),
    summary="Publish up to 1,000 mutations; each is accepted, a duplicate, or refused on its own",
)
async def publish_batch(
    mutation_type: str,
    body: MutationBatchIn,
    request: Request,
    response: Response,
    mutations: MutationsDep,
    refusals: RefusalLogDep,
    caller: Caller = Depends(member_application),
) -> dict:
    outcomes = await mutations.publish_many(caller, mutation_type, body.mutations)
    # Each mutation refused alone is audited as a refusal of this request would be, by its index,
    # under the request id the answer names.
    refused = [
        (number, outcome) for number, outcome in enumerate(outcomes) if isinstance(outcome, Refusal)
    ]
    if refused:
        hub = hub_of(request)
        await refusals.record(
            *[
                await refused_request(request, outcome, hub, index=number)
                for number, outcome in refused
            ]
        )
    response.headers["X-Request-Id"] = request_id(request)
    results = []
    for number, (raw, outcome) in enumerate(zip(body.mutations, outcomes, strict=True)):
        if isinstance(outcome, Refusal):
            results.append(
                {
                    "index": number,
                    "id": raw.get("id") if isinstance(raw.get("id"), str) else None,
                    "status": "refused",
                    "error": outcome.to_dict(),
                }
            )
        else:
            results.append(_published_out(outcome))
    return {"results": results}


@router.post(
    "/v1/subscriptions",
    responses=answers(Subscription, ERRORS, 201),
    status_code=201,
    summary="Subscribe this application to a mutation type, under an authorization",
)
async def subscribe(
    body: SubscriptionIn, mutations: MutationsDep, caller: Caller = Depends(member_application)
) -> dict:
    subscription = await mutations.subscribe(
        caller, body.mutation_type, body.purpose, body.authorization, body.mode, body.webhook_url
    )
    return _subscription_out(subscription)


@router.get(
    "/v1/subscriptions",
    responses=answers(list[Subscription], ERRORS),
    summary="This application's subscriptions",
)
async def list_subscriptions(
    mutations: MutationsDep, caller: Caller = Depends(member_application)
) -> list[dict]:
    return [_subscription_out(s) for s in await mutations.subscriptions(caller)]


@router.delete(
    "/v1/subscriptions/{subscription_id}",
    status_code=204,
    responses=ERRORS,
    summary="Cancel a subscription: nothing more is queued for it",
)
async def unsubscribe(
    subscription_id: str, mutations: MutationsDep, caller: Caller = Depends(member_application)
) -> Response:
    await mutations.unsubscribe(caller, subscription_id)
    return PlainResponse(status_code=204)


@router.get(
    "/v1/mailbox",
    responses=answers(Mailbox, ERRORS),
    summary="Unacknowledged messages of this application's pull subscriptions, in order",
)
async def mailbox(
    mutations: MutationsDep,
    after: int = Query(
        0, ge=0, le=MAX_INTEGER, description="Only messages after this seq (paging)."
    ),
    limit: int = Query(100, ge=1, le=1000),
    caller: Caller = Depends(member_application),
) -> JSONBody:
    deliveries = await mutations.mailbox(caller, after, limit)
    # The messages are stored as the CloudEvents they are: spliced in, not parsed and re-encoded.
    messages = b",".join(b'{"seq":%d,"event":%s}' % (d.seq, d.message) for d in deliveries)
    next_after = deliveries[-1].seq if deliveries else after
    return JSONBody(
        orjson.Fragment(b'{"messages":[' + messages + b'],"next_after":%d}' % next_after)
    )


@router.post(
    "/v1/mailbox/ack",
    responses=answers(Acknowledged, ERRORS),
    summary="Acknowledge received messages by their seq",
)
async def acknowledge(
    body: AckIn, mutations: MutationsDep, caller: Caller = Depends(member_application)
) -> dict:
    return {"acknowledged": await mutations.acknowledge(caller, body.seqs)}


@router.get(
    "/admin/dead-letters",
    responses=answers(list[DeadLetter], ERRORS),
    tags=["admin"],
    dependencies=[Depends(operator)],
    summary="Messages set aside after their last failed push, oldest first",
)
async def dead_letters(
    mutations: MutationsDep,
    after: int = Query(
        0,
        ge=0,
        le=MAX_INTEGER,
        description="Only dead letters after this seq: the last seq of the page before.",
    ),
    limit: int = Query(100, ge=1, le=1000),
) -> list[dict]:
    return [
        {
            "seq": d.seq,
            "subscription": d.subscription,
            "publisher": d.publisher,
            "mutation_id": d.mutation_id,
            "attempts": d.attempts,
            "last_error": d.last_error,
            "dead_at_ms": d.dead_at_ms,
        }
        for d in await mutations.dead_letters(limit, after=after)
    ]


@router.post(
    "/admin/dead-letters/replay",
    responses=answers(Replayed, ERRORS),
    tags=["admin"],
    dependencies=[Depends(operator)],
    summary="Queue dead letters again, due now, with their attempts reset",
)
async def replay(body: AckIn, mutations: MutationsDep, actor: ActorDep) -> dict:
    return {"replayed": await mutations.replay(body.seqs, actor.id)}


@router.post(
    "/admin/dead-letters/drop",
    responses=answers(Dropped, ERRORS),
    tags=["admin"],
    dependencies=[Depends(operator)],
    summary="Give dead letters up for good: they are not sent again",
)
async def drop(body: AckIn, mutations: MutationsDep, actor: ActorDep) -> dict:
    return {"dropped": await mutations.drop(body.seqs, actor.id)}
