"""The GovStack Information Mediator Pub/Sub API, all 14 operations, over the mutation service.

A room (`/r1/{instanceId}/{memberClass}/{memberCode}/{applicationCode}`) is a publisher's
application; its event types are the mutation types that institution publishes. The path is
checked, never echoed: the room must be a registered application of a registered member of that
class in this instance; a publisher's operations must come from that very application; a
subscriber's from its own token, whatever the path says. Managing event types is the operator's
(the registry is theirs: an attacker is a member with a valid key).
"""

from __future__ import annotations

import uuid

import orjson
from fastapi import Depends, Request, Response

from ...domain.callers import Caller
from ...domain.errors import Refusal
from ...domain.mutations import MutationType, Subscription
from ...domain.operators import Permission
from .dependencies import ActorDep, MutationsDep, RegistryQueriesDep, SettingsDep
from .errors import openapi_errors
from .govstack_schemas import (
    EventItem,
    EventTypeIn,
    EventTypeOut,
    PublishEventIn,
    PublishEventResult,
    SubscriptionItem,
    SubscriptionItemIn,
)
from .hub_router import HubRouter
from .json_input import JSONRoute
from .openapi_models import answers
from .responses import JSONBody
from .security import application_or_operator, member_application, operator_for

router = HubRouter(route_class=JSONRoute, tags=["govstack"])
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
)
ROOM = "/r1/{instanceId}/{memberClass}/{memberCode}/{applicationCode}"
PURPOSE_HEADER = "x-crossroads-purpose"
editor = operator_for(Permission.READ, Permission.EDIT)


class Room:
    """The room the path names, checked against the registry."""

    def __init__(self, instance: str, member_class: str, member: str, application: str) -> None:
        self.instance = instance
        self.member_class = member_class
        self.member = member
        self.application = application

    def id(self) -> dict:
        return {
            "instanceId": self.instance,
            "memberClass": self.member_class,
            "memberCode": self.member,
            "applicationCode": self.application,
        }


async def room(
    instanceId: str,
    memberClass: str,
    memberCode: str,
    applicationCode: str,
    queries: RegistryQueriesDep,
    settings: SettingsDep,
) -> Room:
    unknown = Refusal(
        "not_found",
        f"no room {instanceId}/{memberClass}/{memberCode}/{applicationCode} in this instance.",
    )
    if instanceId != settings.instance:
        raise unknown
    institution = await queries.find_institution(memberCode)
    if institution is None or institution.member_class != memberClass:
        raise unknown
    if applicationCode not in {a.code for a in await queries.applications(memberCode)}:
        raise unknown
    return Room(instanceId, memberClass, memberCode, applicationCode)


def _own_room(caller: Caller, where: Room) -> None:
    if (caller.institution, caller.application) != (where.member, where.application):
        raise Refusal(
            "forbidden",
            f"only application {where.member}:{where.application} publishes in its room.",
        )


async def _room_type(mutations: MutationsDep, where: Room, event_type: str) -> MutationType:
    kind = await mutations.mutation_type(event_type)
    if kind.publisher != where.member:
        raise Refusal(
            "unknown_mutation_type",
            f"no event type {event_type[:64]!r} in the room of {where.member}.",
            "eventType",
        )
    return kind


def _event_type(kind: MutationType) -> dict:
    return {
        "eventType": kind.code,
        "schema": kind.schema,
        "version": kind.version,
        "name": kind.name,
        "fields": list(kind.fields),
        "description": kind.description,
    }


# Event types (the room's manager: the operator) ------------------------------------------------


@router.post(
    ROOM + "/api/v1/eventType",
    responses=answers(EventTypeOut, ERRORS),
    summary="GovStack IM Pub/Sub createEventType: register a mutation type this member publishes",
    dependencies=[Depends(editor)],
)
async def create_event_type(
    body: EventTypeIn,
    mutations: MutationsDep,
    actor: ActorDep,
    where: Room = Depends(room),
) -> dict:
    if await mutations.has_type(body.eventType):
        raise Refusal("conflict", f"event type {body.eventType!r} exists.", "eventType")
    properties = body.schema_.get("properties")
    fields = body.fields or (sorted(properties) if isinstance(properties, dict) else [])
    kind, _ = await mutations.put_type(
        MutationType(
            code=body.eventType,
            version=body.version,
            name=body.name or body.eventType,
            publisher=where.member,
            fields=tuple(fields),
            schema=body.schema_,
            description=body.description,
        ),
        actor.id,
    )
    return _event_type(kind)


@router.get(
    ROOM + "/api/v1/eventType",
    responses=answers(list[str], ERRORS, description="The room's event types (204: none)"),
    summary="GovStack IM Pub/Sub getEventTypeList",
)
async def event_types(
    queries: RegistryQueriesDep,
    caller: Caller = Depends(application_or_operator()),
    where: Room = Depends(room),
) -> Response:
    codes = sorted({t.code for t in await queries.mutation_types() if t.publisher == where.member})
    return JSONBody(codes) if codes else Response(status_code=204)


@router.get(
    ROOM + "/api/v1/eventType/{eventType}",
    responses=answers(EventTypeOut, ERRORS, description="The event type (204: none such)"),
    summary="GovStack IM Pub/Sub getEventType",
)
async def event_type(
    eventType: str,
    queries: RegistryQueriesDep,
    caller: Caller = Depends(application_or_operator()),
    where: Room = Depends(room),
) -> Response:
    found = [
        t
        for t in await queries.mutation_types()
        if t.code == eventType and t.publisher == where.member
    ]
    return JSONBody(_event_type(found[-1])) if found else Response(status_code=204)


@router.delete(
    ROOM + "/api/v1/eventType/{eventType}",
    status_code=204,
    responses=ERRORS,
    summary="GovStack IM Pub/Sub deleteEventType: only a type nothing subscribes to or names",
    dependencies=[Depends(editor)],
)
async def delete_event_type(
    eventType: str,
    mutations: MutationsDep,
    actor: ActorDep,
    where: Room = Depends(room),
) -> Response:
    kind = await _room_type(mutations, where, eventType)
    await mutations.delete_type(kind.code, actor.id)
    return Response(status_code=204)


# Publishing (the room's own application) -------------------------------------------------------


@router.post(
    ROOM + "/pub/v1/{eventType}",
    status_code=201,
    responses=answers(PublishEventResult, ERRORS, 201, also=(200,)),
    summary="GovStack IM Pub/Sub publishEvent: 201 when accepted, 200 when the id was before",
)
async def publish_event(
    eventType: str,
    body: PublishEventIn,
    mutations: MutationsDep,
    response: Response,
    caller: Caller = Depends(member_application),
    where: Room = Depends(room),
) -> dict:
    _own_room(caller, where)
    if body.eventType != eventType:
        raise Refusal("malformed_request", "eventType differs from the path's.", "eventType")
    kind = await _room_type(mutations, where, eventType)
    raw = body.event.model_dump(mode="json", exclude_none=True)
    raw.setdefault("id", str(uuid.uuid4()))
    published = await mutations.publish(caller, kind.code, raw)
    response.status_code = 201 if published.status == "accepted" else 200
    return {"id": published.id}


def _event_item(where: Room, kind: str, event_id: str, **more: object) -> dict:
    return {"id": event_id, "publisherId": where.id(), "eventType": kind, **more}


@router.get(
    ROOM + "/pub/v1/{eventType}/{eventId}",
    responses=answers(EventItem, ERRORS),
    summary="GovStack IM Pub/Sub getStatus: whether the hub accepted the event",
)
async def event_status(
    eventType: str,
    eventId: str,
    mutations: MutationsDep,
    caller: Caller = Depends(member_application),
    where: Room = Depends(room),
) -> dict:
    _own_room(caller, where)
    kind = await _room_type(mutations, where, eventType)
    await mutations.accepted(caller, eventId)
    return _event_item(where, kind.code, eventId, status="accepted")


@router.delete(
    ROOM + "/pub/v1/{eventType}/{eventId}",
    status_code=204,
    responses=ERRORS,
    summary="GovStack IM Pub/Sub deleteEvent: refused (409), an accepted event is delivered",
)
async def delete_event(
    eventType: str,
    eventId: str,
    mutations: MutationsDep,
    caller: Caller = Depends(member_application),
    where: Room = Depends(room),
) -> Response:
    _own_room(caller, where)
    await _room_type(mutations, where, eventType)
    await mutations.accepted(caller, eventId)
    # Every recipient's delivery was written with the acceptance, and some may already have
    # read it: stopping part of a fan-out would leave institutions disagreeing about a person.
    raise Refusal(
        "conflict",
        f"event {eventId[:100]!r} was accepted and is delivered to every recipient; publish a"
        " correcting event instead.",
        "eventId",
    )


# Subscriptions (the caller's own) --------------------------------------------------------------


async def _subscription_item(
    queries: RegistryQueriesDep, settings: SettingsDep, subscription: Subscription
) -> dict:
    member = await queries.find_institution(subscription.institution)
    return {
        "id": subscription.id,
        "subscriberId": {
            "instanceId": settings.instance,
            "memberClass": member.member_class if member else "GOV",
            "memberCode": subscription.institution,
            "applicationCode": subscription.application,
        },
        "eventType": subscription.mutation_type,
        "delivery": subscription.mode.upper(),
        "authorization": subscription.authorization,
        "webhookUrl": subscription.webhook_url,
    }


@router.get(
    ROOM + "/api/v1/subs",
    responses=answers(list[SubscriptionItem], ERRORS),
    summary="GovStack IM Pub/Sub listSub: the caller's subscriptions in this room",
)
async def list_subs(
    mutations: MutationsDep,
    queries: RegistryQueriesDep,
    settings: SettingsDep,
    caller: Caller = Depends(member_application),
    where: Room = Depends(room),
) -> list[dict]:
    here = {t.code for t in await queries.mutation_types() if t.publisher == where.member}
    return [
        await _subscription_item(queries, settings, s)
        for s in await mutations.subscriptions(caller)
        if s.mutation_type in here
    ]


def _purpose(request: Request, body: SubscriptionItemIn) -> str | None:
    header = request.headers.get(PURPOSE_HEADER)
    if header is not None and body.purpose is not None and header != body.purpose:
        raise Refusal(
            "malformed_request", "the purpose header and the body name two purposes.", "purpose"
        )
    return body.purpose or header


@router.post(
    ROOM + "/api/v1/subs/{eventType}",
    responses=answers(SubscriptionItem, ERRORS),
    summary="GovStack IM Pub/Sub addSub: subscribe the caller, under an authorization",
)
async def add_sub(
    eventType: str,
    body: SubscriptionItemIn,
    request: Request,
    mutations: MutationsDep,
    queries: RegistryQueriesDep,
    settings: SettingsDep,
    caller: Caller = Depends(member_application),
    where: Room = Depends(room),
) -> dict:
    if body.eventType is not None and body.eventType != eventType:
        raise Refusal("malformed_request", "eventType differs from the path's.", "eventType")
    kind = await _room_type(mutations, where, eventType)
    purpose = _purpose(request, body)
    if purpose is None:
        raise Refusal(
            "malformed_request",
            "name the purpose of the subscription: purpose, or the X-Crossroads-Purpose header.",
            "purpose",
        )
    delivery = body.delivery or "PUSH"  # the specification's default
    subscription = await mutations.subscribe(
        caller, kind.code, purpose, body.authorization, delivery.lower(), body.webhookUrl
    )
    return await _subscription_item(queries, settings, subscription)


@router.get(
    ROOM + "/api/v1/subs/{eventType}",
    responses=answers(SubscriptionItem, ERRORS),
    summary="GovStack IM Pub/Sub getSub",
)
async def get_sub(
    eventType: str,
    mutations: MutationsDep,
    queries: RegistryQueriesDep,
    settings: SettingsDep,
    caller: Caller = Depends(member_application),
    where: Room = Depends(room),
) -> dict:
    kind = await _room_type(mutations, where, eventType)
    return await _subscription_item(
        queries, settings, await mutations.subscription_to(caller, kind.code)
    )


@router.patch(
    ROOM + "/api/v1/subs/{eventType}",
    status_code=201,
    responses=answers(SubscriptionItem, ERRORS, 201),
    summary="GovStack IM Pub/Sub patchSub: change the authorization or the webhook",
)
async def patch_sub(
    eventType: str,
    body: SubscriptionItemIn,
    request: Request,
    mutations: MutationsDep,
    queries: RegistryQueriesDep,
    settings: SettingsDep,
    caller: Caller = Depends(member_application),
    where: Room = Depends(room),
) -> dict:
    kind = await _room_type(mutations, where, eventType)
    current = await mutations.subscription_to(caller, kind.code)
    if body.delivery is not None and body.delivery.lower() != current.mode:
        raise Refusal(
            "conflict",
            "a subscription keeps its delivery mode: cancel it and subscribe again.",
            "delivery",
        )
    amended = await mutations.amend_subscription(
        caller, kind.code, _purpose(request, body), body.authorization, body.webhookUrl
    )
    return await _subscription_item(queries, settings, amended)


@router.delete(
    ROOM + "/api/v1/subs/{eventType}",
    status_code=204,
    responses=ERRORS,
    summary="GovStack IM Pub/Sub deleteSub: nothing more is queued for it",
)
async def delete_sub(
    eventType: str,
    mutations: MutationsDep,
    caller: Caller = Depends(member_application),
    where: Room = Depends(room),
) -> Response:
    kind = await _room_type(mutations, where, eventType)
    await mutations.unsubscribe(caller, (await mutations.subscription_to(caller, kind.code)).id)
    return Response(status_code=204)


# Pulling (the subscriber) -----------------------------------------------------------------------


@router.get(
    ROOM + "/pull/v1/{eventType}",
    responses=answers(EventItem, ERRORS),
    summary="GovStack IM Pub/Sub pullEvent: the next unacknowledged event of a type (404: none)",
)
async def pull(
    eventType: str,
    mutations: MutationsDep,
    caller: Caller = Depends(member_application),
    where: Room = Depends(room),
) -> JSONBody:
    kind = await _room_type(mutations, where, eventType)
    delivery = await mutations.next_of_type(caller, kind.code)
    head = orjson.dumps(_event_item(where, kind.code, delivery.mutation_id, sequence=delivery.seq))
    # The message is stored as the CloudEvent it is: spliced in, not parsed and re-encoded.
    return JSONBody(orjson.Fragment(head[:-1] + b',"event":' + delivery.message + b"}"))


@router.delete(
    ROOM + "/pull/v1/{eventType}/{eventId}",
    status_code=204,
    responses=ERRORS,
    summary="GovStack IM Pub/Sub confirmEvent: acknowledge an event",
)
async def confirm(
    eventType: str,
    eventId: str,
    mutations: MutationsDep,
    caller: Caller = Depends(member_application),
    where: Room = Depends(room),
) -> Response:
    kind = await _room_type(mutations, where, eventType)
    await mutations.confirm(caller, kind.code, eventId)
    return Response(status_code=204)
