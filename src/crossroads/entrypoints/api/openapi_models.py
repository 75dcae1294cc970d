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


def answers(model: Any, errors: dict, status: int = 200, description: str = "OK") -> dict:
    """A route's `responses`: its documented errors and its success answer, `model` (a pydantic
    model, or a type such as `list[Model]`)."""
    return {**errors, status: {"model": model, "description": description}}


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
