"""Discovery in the shape of the GovStack Information Mediator directory services.

`listClients`, `listMethods`, `allowedMethods` and `getOpenAPI` answer as that specification
(GovStack's Information Mediator building block, its Directory Services API) says, so that a client
written for it finds Crossroads' members and services. A member's "applications" here are the
services it provides (its subsystem, in X-Road terms, is `services`).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from ...domain.callers import Caller
from ...domain.errors import Refusal
from ...domain.registry import Service
from .dependencies import ClockDep, RegistryQueriesDep, SettingsDep
from .errors import openapi_errors
from .json_input import JSONRoute
from .security import application_or_operator

router = APIRouter(route_class=JSONRoute, tags=["discovery"])
ERRORS = openapi_errors("unauthenticated", "not_found", "unknown_service", "malformed_request")
PROVIDER_SUBSYSTEM = "services"


@router.get(
    "/listClients",
    responses=ERRORS,
    summary="GovStack IM: members and applications of this instance",
)
async def list_clients(
    queries: RegistryQueriesDep,
    settings: SettingsDep,
    instanceId: str | None = None,
    caller: Caller = Depends(application_or_operator()),
) -> dict:
    instance = settings.instance
    if instanceId is not None and instanceId != instance:
        return {"member": []}
    members = []
    institutions = await queries.institutions()
    member_class = {i.enterprise_number: i.member_class for i in institutions}
    for institution in institutions:
        members.append(
            {
                "name": institution.name,
                "id": {
                    "objectType": "MEMBER",
                    "instanceId": instance,
                    "memberClass": institution.member_class,
                    "memberCode": institution.enterprise_number,
                },
            }
        )
    for application in await queries.applications():
        members.append(
            {
                "name": application.name,
                "id": {
                    "objectType": "APPLICATION",
                    "instanceId": instance,
                    "memberClass": member_class.get(application.institution, "GOV"),
                    "memberCode": application.institution,
                    "applicationCode": application.code,
                },
            }
        )
    return {"member": members}


async def _provided(
    queries: RegistryQueriesDep,
    settings: SettingsDep,
    instance: str,
    member_class: str,
    member: str,
    application: str,
) -> tuple[list[Service], str]:
    if instance != settings.instance or application != PROVIDER_SUBSYSTEM:
        raise Refusal(
            "not_found",
            f"no provider {instance}/{member_class}/{member}/{application} in this instance.",
        )
    institution = await queries.find_institution(member)
    if institution is None or institution.member_class != member_class:
        raise Refusal("not_found", f"no member {member_class}/{member} in this instance.")
    return await queries.services(provider=member), institution.member_class


def _describe(service: Service, instance: str, member_class: str, member: str) -> dict:
    return {
        "objectType": "SERVICE",
        "serviceType": "REST",
        "instanceId": instance,
        "memberClass": member_class,
        "memberCode": member,
        "applicationCode": PROVIDER_SUBSYSTEM,
        "serviceCode": service.code,
        "serviceVersion": service.version,
        "endpointList": {"member": [{"method": "POST", "path": f"/v1/exchange/{service.code}"}]},
    }


@router.get(
    "/r1/{instanceId}/{memberClass}/{memberCode}/{applicationCode}/listMethods",
    responses=ERRORS,
    summary="GovStack IM: services a provider offers",
)
async def list_methods(
    instanceId: str,
    memberClass: str,
    memberCode: str,
    applicationCode: str,
    queries: RegistryQueriesDep,
    settings: SettingsDep,
    serviceId: str | None = None,
    caller: Caller = Depends(application_or_operator()),
) -> dict:
    services, member_class = await _provided(
        queries, settings, instanceId, memberClass, memberCode, applicationCode
    )
    return {
        "member": [
            _describe(s, instanceId, member_class, memberCode)
            for s in services
            if serviceId is None or s.code == serviceId
        ]
    }


@router.get(
    "/r1/{instanceId}/{memberClass}/{memberCode}/{applicationCode}/allowedMethods",
    responses=ERRORS,
    summary="GovStack IM: services of a provider the caller is authorized for",
)
async def allowed_methods(
    instanceId: str,
    memberClass: str,
    memberCode: str,
    applicationCode: str,
    queries: RegistryQueriesDep,
    settings: SettingsDep,
    clock: ClockDep,
    serviceId: str | None = None,
    caller: Caller = Depends(application_or_operator()),
) -> dict:
    services, member_class = await _provided(
        queries, settings, instanceId, memberClass, memberCode, applicationCode
    )
    today = clock.today()
    if caller.operator:
        allowed = {s.code for s in services}
    else:
        allowed = {
            a.service
            for a in await queries.authorizations(consumer=caller.institution)
            if a.is_valid_on(today)
        }
    return {
        "member": [
            _describe(s, instanceId, member_class, memberCode)
            for s in services
            if s.code in allowed and (serviceId is None or s.code == serviceId)
        ]
    }


@router.get(
    "/r1/{instanceId}/{memberClass}/{memberCode}/{applicationCode}/getOpenAPI",
    responses=ERRORS,
    summary="GovStack IM: the OpenAPI description of one service",
)
async def get_openapi(
    instanceId: str,
    memberClass: str,
    memberCode: str,
    applicationCode: str,
    serviceCode: str,
    queries: RegistryQueriesDep,
    settings: SettingsDep,
    caller: Caller = Depends(application_or_operator()),
) -> dict:
    services, _ = await _provided(
        queries, settings, instanceId, memberClass, memberCode, applicationCode
    )
    matching = [s for s in services if s.code == serviceCode]
    if not matching:
        raise Refusal(
            "unknown_service", f"{memberCode} provides no service {serviceCode!r}.", "serviceCode"
        )
    return service_openapi(max(matching, key=lambda s: s.version))


def service_openapi(service: Service) -> dict:
    """An OpenAPI 3 document for calling one service through the hub."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": service.name,
            "version": service.version,
            "description": service.description,
        },
        "paths": {
            f"/v1/exchange/{service.code}": {
                "post": {
                    "operationId": service.code,
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["subject", "purpose"],
                                    "properties": {
                                        "subject": {"type": "string"},
                                        "purpose": {"type": "string"},
                                        "authorization": {"type": "string"},
                                        "date": {"type": "string", "format": "date"},
                                        "parameters": service.request_schema,
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "Answers, one per provider",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {
                                            "answers": {
                                                "type": "array",
                                                "items": {
                                                    "type": "object",
                                                    "properties": {
                                                        "provider": {"type": "string"},
                                                        "data": service.response_schema,
                                                    },
                                                },
                                            }
                                        },
                                    }
                                }
                            },
                        }
                    },
                }
            }
        },
    }
