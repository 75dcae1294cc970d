"""What the API answers, as pydantic models: they only describe the answers in the OpenAPI
document (`answers`), they never filter or re-encode them.

Routes build their answers as plain dicts and JSON fragments (the fast path), so a model here is a
promise that `tests/e2e/test_openapi_answers.py` checks against real answers.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Out(BaseModel):
    """An answer's shape; fields it does not list may appear."""

    model_config = ConfigDict(extra="allow")


def answers(
    model: Any,
    errors: dict,
    status: int = 200,
    description: str = "OK",
    also: tuple[int, ...] = (),
) -> dict:
    """A route's `responses`: its documented errors and its success answer, `model` (a pydantic
    model, or a type such as `list[Model]`), under `status` and the statuses `also` names (a
    PUT's 201 when it created, a publication's 200 when the id was accepted before)."""
    success = {"model": model, "description": description}
    return {**errors, **{extra: success for extra in also}, status: success}


# GovStack IM directory services ---------------------------------------------------------------


class ClientId(Out):
    objectType: Literal["MEMBER", "APPLICATION", "SERVICE"]
    instanceId: str
    memberClass: str
    memberCode: str
    applicationCode: str | None = None


class Client(Out):
    name: str
    id: ClientId


class ClientList(Out):
    member: list[Client]


class Endpoint(Out):
    method: str
    path: str


class EndpointList(Out):
    member: list[Endpoint]


class ServiceDetails(Out):
    objectType: Literal["SERVICE"]
    serviceType: str
    instanceId: str
    memberClass: str
    memberCode: str
    applicationCode: str
    serviceCode: str
    serviceVersion: str
    endpointList: EndpointList


class ServiceList(Out):
    member: list[ServiceDetails]


class OpenAPIDocument(Out):
    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
    servers: list[dict[str, Any]] = Field(default_factory=list)


class XRoadError(BaseModel):
    """X-Road's error body: `type` is `Client.<code>`, `Server.ServerProxy.<code>` or
    `Server.ClientProxy.<code>` (the code from docs/errors.md); `detail` is the request id."""

    type: str
    message: str
    detail: str
