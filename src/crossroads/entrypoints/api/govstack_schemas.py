"""Bodies of the GovStack Information Mediator Pub/Sub API, in and out, as its specification
(in `../shared/reference/govstack/`) names them, with Crossroads' own fields beside: a purpose
and an authorization, what the hub needs to bind a subscription to a legal decision."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .openapi_models import Out
from .schemas import MAX_INTEGER


class EventTypeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    eventType: str = Field(max_length=64, description="The mutation type's code.")
    schema_: dict[str, Any] = Field(alias="schema", description="JSON Schema of the event.")
    name: str | None = Field(None, max_length=200, description="Crossroads: a readable name.")
    description: str = Field("", max_length=2000)
    version: str = Field("1", max_length=64, description="Crossroads: the type's version.")
    fields: list[str] | None = Field(
        None,
        description=(
            "Crossroads: what the payload may hold (authorizations allow some of them); the"
            " schema's top-level properties when omitted."
        ),
    )


class EventTypeOut(Out):
    eventType: str
    schema_: dict[str, Any] = Field(alias="schema")
    version: str
    name: str
    fields: list[str]


class EventBody(BaseModel):
    """The event itself: a mutation about one person (docs/mutations.md)."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(
        None, min_length=1, max_length=100, description="The publisher's id; one is made if none."
    )
    subject: str = Field(max_length=64)
    effective_date: dt.date
    payload: dict[str, Any] = Field(default_factory=dict)
    version: str | None = Field(None, max_length=64)


class PublishEventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    eventType: str = Field(max_length=64)
    event: EventBody


class PublishEventResult(Out):
    id: str


class MemberId(Out):
    instanceId: str
    memberClass: str
    memberCode: str
    applicationCode: str


class EventItem(Out):
    id: str
    sequence: int | None = None
    publisherId: MemberId
    eventType: str
    event: dict[str, Any] | None = None


class SubscriptionOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    TTL: int | None = Field(None, ge=0, le=MAX_INTEGER)
    FIFO: bool | None = None


class SubscriptionItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(None, max_length=100, description="Ignored: the hub names it.")
    subscriberId: dict[str, Any] | None = Field(
        None, description="Ignored: the subscriber is the caller."
    )
    eventType: str | None = Field(None, max_length=64)
    delivery: Literal["PUSH", "PULL"] | None = None
    options: SubscriptionOptions | None = None
    purpose: str | None = Field(
        None, max_length=64, description="Crossroads: the purpose the authorization names."
    )
    authorization: str | None = Field(None, max_length=100)
    webhookUrl: str | None = Field(None, max_length=2000, description="Crossroads: for PUSH.")


class SubscriptionItem(Out):
    id: str
    subscriberId: MemberId
    eventType: str
    delivery: Literal["PUSH", "PULL"]
    authorization: str
    webhookUrl: str | None = None
