"""Discovery in the shape of the GovStack Information Mediator directory services.

`listClients`, `listMethods`, `allowedMethods` and `getOpenAPI` answer as that specification
(GovStack's Information Mediator building block, its Directory Services API, the same family as
X-Road's service metadata protocol) says, so that a client written for it finds Crossroads'
members and services and can walk listClients → listMethods → getOpenAPI → call.

A provider is an application of a member, in X-Road terms a subsystem: an institution's fixed
services are offered by its subsystem `services`, and the services the hub routes per person by
the hub's own member (`HUB_MEMBER`), subsystem `routed`. The metadata paths are served with and
without the `/r1` prefix: suites written for these interfaces call both.
"""

from __future__ import annotations

from fastapi import Depends, Query, Request

from ...domain.callers import Caller
from ...domain.errors import Refusal
from ...domain.registry import HUB_MEMBER, HUB_MEMBER_CLASS, Service
from ...domain.versions import version_key
from ...domain.wording import in_language
from ...templates.i18n import LOCALES
from .dependencies import ClockDep, RegistryQueriesDep, SettingsDep
from .errors import openapi_errors
from .hub_router import HubRouter
from .json_input import JSONRoute
from .languages import language_of
from .openapi_models import ClientList, OpenAPIDocument, ServiceList, answers
from .security import application_or_operator

router = HubRouter(route_class=JSONRoute, tags=["discovery"])
ERRORS = openapi_errors(
    "unauthenticated", "member_busy", "not_found", "unknown_service", "malformed_request"
)
PROVIDER_SUBSYSTEM = "services"
ROUTED_SUBSYSTEM = "routed"
HUB_CLASS = HUB_MEMBER_CLASS
PROVIDER = "/{instanceId}/{memberClass}/{memberCode}/{applicationCode}"


def _metadata(name: str, summary: str, model: type) -> object:
    """Declare a metadata route at `/r1/…/name`, and the same without `/r1` (undocumented twice)."""

    def register(endpoint: object) -> object:
        router.get(
            "/r1" + PROVIDER + "/" + name, responses=answers(model, ERRORS), summary=summary
        )(endpoint)
        router.get(PROVIDER + "/" + name, include_in_schema=False)(endpoint)
        return endpoint

    return register


def _client(
    name: str,
    object_type: str,
    instance: str,
    member_class: str,
    member: str,
    application: str | None = None,
) -> dict:
    ident = {
        "objectType": object_type,
        "instanceId": instance,
        "memberClass": member_class,
        "memberCode": member,
    }
    if application is not None:
        ident["applicationCode"] = application
    return {"name": name, "id": ident}


async def _list_clients(
    queries: RegistryQueriesDep,
    settings: SettingsDep,
    instanceId: str | None = None,
    xRoadInstance: str | None = None,
    caller: Caller = Depends(application_or_operator()),
) -> dict:
    instance = settings.instance
    asked = instanceId if instanceId is not None else xRoadInstance
    if asked is not None and asked != instance:
        return {"member": []}
    institutions = await queries.institutions()
    member_class = {i.enterprise_number: i.member_class for i in institutions}
    services = await queries.services()
    providers = {s.provider for s in services if s.provider is not None}
    members = [
        _client(i.name, "MEMBER", instance, i.member_class, i.enterprise_number)
        for i in institutions
    ]
    members += [
        _client(
            f"{i.name}: services",
            "APPLICATION",
            instance,
            i.member_class,
            i.enterprise_number,
            PROVIDER_SUBSYSTEM,
        )
        for i in institutions
        if i.enterprise_number in providers
    ]
    if any(s.routed_capacity is not None for s in services):
        members += [
            _client("Crossroads hub", "MEMBER", instance, HUB_CLASS, HUB_MEMBER),
            _client(
                "Crossroads hub: services routed per person",
                "APPLICATION",
                instance,
                HUB_CLASS,
                HUB_MEMBER,
                ROUTED_SUBSYSTEM,
            ),
        ]
    listed = {tuple(m["id"].values()) for m in members}
    for application in await queries.applications():
        client = _client(
            application.name,
            "APPLICATION",
            instance,
            member_class.get(application.institution, "GOV"),
            application.institution,
            application.code,
        )
        if tuple(client["id"].values()) not in listed:
            members.append(client)
    return {"member": members}


router.get(
    "/listClients",
    responses=answers(ClientList, ERRORS),
    summary="GovStack IM: members and applications of this instance, providers included",
)(_list_clients)
router.get("/r1/listClients", include_in_schema=False)(_list_clients)


async def _provided(
    queries: RegistryQueriesDep,
    settings: SettingsDep,
    instance: str,
    member_class: str,
    member: str,
    application: str,
) -> list[Service]:
    """The services the provider the path names offers; `not_found` when it names none."""
    unknown = Refusal(
        "not_found",
        f"no provider {instance}/{member_class}/{member}/{application} in this instance.",
    )
    if instance != settings.instance:
        raise unknown
    services = await queries.services()
    if member == HUB_MEMBER:
        if member_class != HUB_CLASS or application != ROUTED_SUBSYSTEM:
            raise unknown
        return [s for s in services if s.routed_capacity is not None]
    if application != PROVIDER_SUBSYSTEM:
        raise unknown
    institution = await queries.find_institution(member)
    if institution is None or institution.member_class != member_class:
        raise unknown
    return [s for s in services if s.provider == member]


def _describe(
    service: Service, instance: str, member_class: str, member: str, application: str
) -> dict:
    return {
        "objectType": "SERVICE",
        "serviceType": "REST",
        "instanceId": instance,
        "memberClass": member_class,
        "memberCode": member,
        "applicationCode": application,
        "serviceCode": service.code,
        "serviceVersion": service.version,
        "endpointList": {
            "member": [
                {"method": "POST", "path": _r1_path(service, instance, member_class, application)},
                {"method": "POST", "path": f"/v1/exchange/{service.code}"},
            ]
        },
    }


def _r1_path(service: Service, instance: str, member_class: str, application: str) -> str:
    return f"/r1/{instance}/{member_class}/{service.offered_by}/{application}/{service.code}"


@_metadata("listMethods", "GovStack IM: services a provider offers", ServiceList)
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
    services = await _provided(
        queries, settings, instanceId, memberClass, memberCode, applicationCode
    )
    return {
        "member": [
            _describe(s, instanceId, memberClass, memberCode, applicationCode)
            for s in services
            if serviceId is None or s.code == serviceId
        ]
    }


@_metadata(
    "allowedMethods",
    "GovStack IM: services of a provider the caller is authorized for",
    ServiceList,
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
    services = await _provided(
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
            _describe(s, instanceId, memberClass, memberCode, applicationCode)
            for s in services
            if s.code in allowed and (serviceId is None or s.code == serviceId)
        ]
    }


@_metadata("getOpenAPI", "GovStack IM: the OpenAPI description of one service", OpenAPIDocument)
async def get_openapi(
    request: Request,
    instanceId: str,
    memberClass: str,
    memberCode: str,
    applicationCode: str,
    queries: RegistryQueriesDep,
    settings: SettingsDep,
    serviceCode: str | None = Query(None, max_length=64),
    caller: Caller = Depends(application_or_operator()),
) -> dict:
    if not serviceCode:
        raise Refusal(
            "malformed_request", "serviceCode names the service to describe.", "serviceCode"
        )
    services = await _provided(
        queries, settings, instanceId, memberClass, memberCode, applicationCode
    )
    matching = [s for s in services if s.code == serviceCode]
    if not matching:
        raise Refusal(
            "unknown_service", f"{memberCode} provides no service {serviceCode!r}.", "serviceCode"
        )
    service = max(matching, key=lambda s: version_key(s.version))
    # The service's name and description in the language the caller accepts (domain/wording.py),
    # English, the registry's default text, when it names none of the portal's.
    language = language_of(request.headers.get("accept-language"), "en", LOCALES)
    return service_openapi(
        service,
        settings.issuer,
        _r1_path(service, instanceId, memberClass, applicationCode),
        language,
    )


def service_openapi(service: Service, server: str, r1_path: str, language: str = "en") -> dict:
    """An OpenAPI 3 document for calling one service through the hub: on our own path, and on
    X-Road's (r1), where purpose, authorization and capacity may also come as headers. Its title
    and description are the service's name and description in `language`, else the default."""
    body = {
        "type": "object",
        "required": ["subject"],
        "properties": {
            "subject": {"type": "string"},
            "purpose": {"type": "string"},
            "authorization": {"type": "string"},
            "capacity": {"type": "string"},
            "version": {"type": "string"},
            "date": {"type": "string", "format": "date"},
            "parameters": service.request_schema,
        },
    }
    answer = {
        "type": "object",
        "required": ["request_id", "service", "answers"],
        "properties": {
            "request_id": {"type": "string"},
            "service": {"type": "string"},
            "version": {"type": "string"},
            "authorization": {"type": "string"},
            "legal_basis": {"type": "string"},
            "answers": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"provider": {"type": "string"}, "data": service.response_schema},
                },
            },
        },
    }

    def operation(operation_id: str, required: list[str], headers: list[dict]) -> dict:
        return {
            "operationId": operation_id,
            "parameters": headers,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {**body, "required": required}}},
            },
            "responses": {
                "200": {
                    "description": "Answers, one per provider",
                    "content": {"application/json": {"schema": answer}},
                }
            },
        }

    def header(name: str, description: str, required: bool = False) -> dict:
        return {
            "name": name,
            "in": "header",
            "required": required,
            "description": description,
            "schema": {"type": "string"},
        }

    xroad_headers = [
        header("X-Road-Client", "INSTANCE/CLASS/MEMBER/APPLICATION of the caller", True),
        header("X-Crossroads-Purpose", "Purpose code, when the body names none"),
        header("X-Crossroads-Authorization", "Authorization reference, when the body names none"),
        header("X-Crossroads-Capacity", "Capacity the caller asks in, when the body names none"),
    ]
    return {
        "openapi": "3.0.3",
        "info": {
            "title": in_language(service.name, service.name_translations, language)[0],
            "version": service.version,
            "description": in_language(
                service.description, service.description_translations, language
            )[0],
        },
        "servers": [{"url": server}],
        "paths": {
            f"/v1/exchange/{service.code}": {
                "post": operation(service.code, ["subject", "purpose"], [])
            },
            r1_path: {"post": operation(f"{service.code}.r1", ["subject"], xroad_headers)},
        },
    }
