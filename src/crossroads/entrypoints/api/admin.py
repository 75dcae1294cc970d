"""The admin API: the registry, for the hub's operator.

Every resource it creates, it lists and shows: writes go through the registry's use cases
(validated and audited with the operator's id), reads through its query service; the routes
parse and render. Reads need the `read` permission, writes `edit` (security.operator). With four
eyes on, a change to an authorization or an integration right, a member's or application's
change that lets someone act or receive (a key; a provider address, webhook base or peer), and a
service's change that sends its requests to another institution, answer 202 with the proposal it
became (admin_proposals.py, services/four_eyes.py).
"""

from __future__ import annotations

from dataclasses import asdict

from fastapi import Depends, Response

from ...domain.errors import Refusal
from ...domain.proposals import Proposal
from ...domain.registry import (
    Application,
    Authorization,
    Capacity,
    Institution,
    IntegrationRight,
    RoutedProvider,
    Service,
)
from .admin_proposals import proposal_out
from .answer_models import ApplicationOut, ProposalOut
from .dependencies import ActorDep, FourEyesDep, RegistryAdminDep, RegistryQueriesDep
from .errors import openapi_errors
from .hub_router import HubRouter
from .json_input import JSONRoute
from .openapi_models import answers
from .responses import JSONBody
from .schemas import (
    ApplicationIn,
    AuthorizationIn,
    CapacityIn,
    InstitutionIn,
    IntegrationRightIn,
    ServiceIn,
)
from .security import operator

router = HubRouter(
    route_class=JSONRoute, prefix="/admin", tags=["admin"], dependencies=[Depends(operator)]
)
ERRORS = openapi_errors(
    "unauthenticated",
    "forbidden",
    "malformed_request",
    "invalid_identifier",
    "not_found",
    "unknown_service",
    "conflict",
    "payload_too_large",
    "no_integration_right",
    "role_required",
    "csrf_failed",
)


# With four eyes on (CROSSROADS_FOUR_EYES), authorizations, integration rights, and members' and
# applications' changes that let someone act or receive, answer this.
PROPOSED = {
    **ERRORS,
    202: {
        "model": ProposalOut,
        "description": "Four eyes: the change became a proposal (admin_proposals.py).",
    },
}


def _out(obj) -> dict:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(obj).items()}


def _application_out(application: Application) -> dict:
    return {**_out(application), "client_id": application.client_id}


def _created(response: Response, created: bool) -> None:
    response.status_code = 201 if created else 200


def _applied_or_proposed(outcome, response: Response, out=_out) -> dict:
    """201/200 with the change applied, or 202 with the proposal it became (four eyes)."""
    if isinstance(outcome, Proposal):
        response.status_code = 202
        return proposal_out(outcome)
    change, created = outcome
    _created(response, created)
    return out(change)


def _removed_or_proposed(proposal: Proposal | None) -> Response:
    if proposal is None:
        return Response(status_code=204)
    return JSONBody(proposal_out(proposal), status_code=202)


# Institutions and their applications ----------------------------------------------------------


@router.put(
    "/institutions/{enterprise_number}",
    responses=answers(Institution, PROPOSED, also=(201,)),
    summary="Register or update a member institution (four eyes: a new address or peer)",
)
async def put_institution(
    enterprise_number: str,
    body: InstitutionIn,
    four_eyes: FourEyesDep,
    actor: ActorDep,
    response: Response,
) -> dict:
    institution = Institution(
        enterprise_number,
        body.name,
        body.member_class,
        body.base_url,
        tuple(body.webhook_bases),
        body.peer,
    )
    return _applied_or_proposed(await four_eyes.put(institution, actor), response)


@router.get(
    "/institutions",
    responses=answers(list[Institution], ERRORS),
    summary="List member institutions",
)
async def list_institutions(queries: RegistryQueriesDep) -> list[dict]:
    return [_out(i) for i in await queries.institutions()]


@router.get(
    "/institutions/{enterprise_number}",
    responses=answers(Institution, ERRORS),
    summary="One member institution",
)
async def get_institution(enterprise_number: str, queries: RegistryQueriesDep) -> dict:
    return _out(await queries.institution(enterprise_number))


@router.put(
    "/institutions/{enterprise_number}/applications/{code}",
    responses=answers(ApplicationOut, PROPOSED, also=(201,)),
    summary="Register an application and its public keys (four eyes: a key it did not have)",
)
async def put_application(
    enterprise_number: str,
    code: str,
    body: ApplicationIn,
    four_eyes: FourEyesDep,
    actor: ActorDep,
    response: Response,
) -> dict:
    application = Application(enterprise_number, code, body.name, body.jwks, body.active)
    outcome = await four_eyes.put(application, actor)
    return _applied_or_proposed(outcome, response, _application_out)


@router.get(
    "/applications", responses=answers(list[ApplicationOut], ERRORS), summary="List applications"
)
async def list_applications(queries: RegistryQueriesDep) -> list[dict]:
    return [_application_out(a) for a in await queries.applications()]


@router.get(
    "/institutions/{enterprise_number}/applications",
    responses=answers(list[ApplicationOut], ERRORS),
    summary="List the applications of one institution",
)
async def list_institution_applications(
    enterprise_number: str, queries: RegistryQueriesDep
) -> list[dict]:
    return [_application_out(a) for a in await queries.applications(enterprise_number)]


@router.get(
    "/institutions/{enterprise_number}/applications/{code}",
    responses=answers(ApplicationOut, ERRORS),
    summary="One application",
)
async def get_application(enterprise_number: str, code: str, queries: RegistryQueriesDep) -> dict:
    return _application_out(await queries.application(enterprise_number, code))


# Capacities -----------------------------------------------------------------------------------


@router.put(
    "/capacities/{code}",
    responses=answers(Capacity, ERRORS, also=(201,)),
    summary="Register a capacity",
)
async def put_capacity(
    code: str, body: CapacityIn, registry: RegistryAdminDep, response: Response
) -> dict:
    capacity, created = await registry.put_capacity(
        Capacity(code, body.name, dict(body.name_translations))
    )
    _created(response, created)
    return _out(capacity)


@router.get("/capacities", responses=answers(list[Capacity], ERRORS), summary="List capacities")
async def list_capacities(queries: RegistryQueriesDep) -> list[dict]:
    return [_out(c) for c in await queries.capacities()]


@router.get("/capacities/{code}", responses=answers(Capacity, ERRORS), summary="One capacity")
async def get_capacity(code: str, queries: RegistryQueriesDep) -> dict:
    return _out(await queries.capacity(code))


# Services and their providers -----------------------------------------------------------------


@router.put(
    "/services/{code}/{version}",
    responses=answers(Service, PROPOSED, also=(201,)),
    summary="Register an electronic service (four eyes: its requests sent elsewhere)",
)
async def put_service(
    code: str,
    version: str,
    body: ServiceIn,
    four_eyes: FourEyesDep,
    actor: ActorDep,
    response: Response,
) -> dict:
    service = Service(
        code=code,
        version=version,
        name=body.name,
        description=body.description,
        name_translations=dict(body.name_translations),
        description_translations=dict(body.description_translations),
        provider=body.provider,
        routed_capacity=body.routed_capacity,
        path=body.path,
        request_schema=body.request_schema,
        response_schema=body.response_schema,
        response_fields=tuple(body.response_fields),
    )
    return _applied_or_proposed(await four_eyes.put(service, actor), response)


@router.get(
    "/services", responses=answers(list[Service], ERRORS), summary="List electronic services"
)
async def list_services(queries: RegistryQueriesDep) -> list[dict]:
    return [_out(s) for s in await queries.services()]


# Before /services/{code}/{version}, which would take "providers" for a version.
@router.get(
    "/services/{code}/providers",
    responses=answers(list[RoutedProvider], ERRORS),
    summary="List the providers of one routed service",
)
async def list_service_providers(code: str, queries: RegistryQueriesDep) -> list[dict]:
    return [_out(p) for p in await queries.routed_providers(code)]


@router.get(
    "/services/{code}/providers/{enterprise_number}",
    responses=answers(RoutedProvider, ERRORS),
    summary="One provider of a routed service",
)
async def get_routed_provider(
    code: str, enterprise_number: str, queries: RegistryQueriesDep
) -> dict:
    return _out(await queries.routed_provider(code, enterprise_number))


@router.get(
    "/services/{code}/{version}",
    responses=answers(Service, ERRORS),
    summary="One version of an electronic service",
)
async def get_service(code: str, version: str, queries: RegistryQueriesDep) -> dict:
    return _out(await queries.service(code, version))


@router.put(
    "/services/{code}/providers/{enterprise_number}",
    responses=answers(RoutedProvider, ERRORS, also=(201,)),
    summary="Register an institution as a provider of a routed service",
)
async def put_routed_provider(
    code: str, enterprise_number: str, registry: RegistryAdminDep, response: Response
) -> dict:
    provider, created = await registry.put_routed_provider(RoutedProvider(code, enterprise_number))
    _created(response, created)
    return _out(provider)


@router.get(
    "/routed-providers",
    responses=answers(list[RoutedProvider], ERRORS),
    summary="List the providers of routed services",
)
async def list_routed_providers(
    queries: RegistryQueriesDep, service: str | None = None
) -> list[dict]:
    return [_out(p) for p in await queries.routed_providers(service)]


@router.delete(
    "/services/{code}/providers/{enterprise_number}",
    status_code=204,
    responses=ERRORS,
    summary="Stop routing a service's requests to an institution",
)
async def delete_routed_provider(
    code: str, enterprise_number: str, registry: RegistryAdminDep
) -> Response:
    await registry.delete("routed_provider", (code, enterprise_number))
    return Response(status_code=204)


# Authorizations -------------------------------------------------------------------------------


@router.put(
    "/authorizations/{reference:path}",
    responses=answers(Authorization, PROPOSED, also=(201,)),
    summary="Record an authorization (deliberation)",
)
async def put_authorization(
    reference: str,
    body: AuthorizationIn,
    four_eyes: FourEyesDep,
    actor: ActorDep,
    response: Response,
) -> dict:
    if not reference or len(reference) > 100:
        raise Refusal(
            "malformed_request", "the reference is 1-100 characters, e.g. ISC/24/123.", "reference"
        )
    outcome = await four_eyes.put(
        Authorization(
            reference=reference,
            consumer=body.consumer,
            service=body.service,
            purpose=body.purpose,
            legal_basis=body.legal_basis,
            legal_basis_translations=dict(body.legal_basis_translations),
            required_capacities=tuple(body.required_capacities),
            allowed_fields=tuple(body.allowed_fields),
            valid_from=body.valid_from,
            valid_to=body.valid_to,
            accepts_provisional=body.accepts_provisional,
        ),
        actor,
    )
    return _applied_or_proposed(outcome, response)


@router.get(
    "/authorizations", responses=answers(list[Authorization], ERRORS), summary="List authorizations"
)
async def list_authorizations(
    queries: RegistryQueriesDep, consumer: str | None = None, service: str | None = None
) -> list[dict]:
    return [_out(a) for a in await queries.authorizations(consumer, service)]


@router.get(
    "/authorizations/{reference:path}",
    responses=answers(Authorization, ERRORS),
    summary="One authorization",
)
async def get_authorization(reference: str, queries: RegistryQueriesDep) -> dict:
    return _out(await queries.authorization(reference))


# Integration rights ---------------------------------------------------------------------------


@router.put(
    "/integration-rights/{enterprise_number}/{capacity}",
    responses=answers(IntegrationRight, PROPOSED, also=(201,)),
    summary="Let an institution integrate persons in a capacity",
)
async def put_integration_right(
    enterprise_number: str,
    capacity: str,
    body: IntegrationRightIn,
    four_eyes: FourEyesDep,
    actor: ActorDep,
    response: Response,
) -> dict:
    outcome = await four_eyes.put(
        IntegrationRight(
            enterprise_number,
            capacity,
            body.legal_basis,
            legal_basis_translations=dict(body.legal_basis_translations),
        ),
        actor,
    )
    return _applied_or_proposed(outcome, response)


@router.get(
    "/integration-rights",
    responses=answers(list[IntegrationRight], ERRORS),
    summary="List integration rights",
)
async def list_integration_rights(
    queries: RegistryQueriesDep, institution: str | None = None
) -> list[dict]:
    return [_out(r) for r in await queries.integration_rights(institution)]


@router.get(
    "/integration-rights/{enterprise_number}/{capacity}",
    responses=answers(IntegrationRight, ERRORS),
    summary="One integration right",
)
async def get_integration_right(
    enterprise_number: str, capacity: str, queries: RegistryQueriesDep
) -> dict:
    return _out(await queries.integration_right(enterprise_number, capacity))


@router.delete(
    "/integration-rights/{enterprise_number}/{capacity}",
    status_code=204,
    responses=PROPOSED,
    summary="Withdraw an integration right (its entries then count for nothing)",
)
async def delete_integration_right(
    enterprise_number: str, capacity: str, four_eyes: FourEyesDep, actor: ActorDep
) -> Response:
    return _removed_or_proposed(
        await four_eyes.delete("integration_right", (enterprise_number, capacity), actor)
    )


# Removals -------------------------------------------------------------------------------------

_DELETABLE = {
    "institutions": "institution",
    "capacities": "capacity",
    "authorizations": "authorization",
}


@router.delete(
    "/services/{code}/{version}",
    status_code=204,
    responses=ERRORS,
    summary="Remove a service version",
)
async def delete_service(code: str, version: str, registry: RegistryAdminDep) -> Response:
    await registry.delete("service", (code, version))
    return Response(status_code=204)


@router.delete(
    "/institutions/{enterprise_number}/applications/{code}",
    status_code=204,
    responses=ERRORS,
    summary="Remove an application",
)
async def delete_application(
    enterprise_number: str, code: str, registry: RegistryAdminDep
) -> Response:
    await registry.delete("application", (enterprise_number, code))
    return Response(status_code=204)


@router.delete(
    "/{collection}/{key:path}",
    status_code=204,
    responses=PROPOSED,
    summary="Remove an institution, capacity or authorization",
)
async def delete_one(
    collection: str,
    key: str,
    registry: RegistryAdminDep,
    four_eyes: FourEyesDep,
    actor: ActorDep,
) -> Response:
    if collection not in _DELETABLE:
        raise Refusal("not_found", f"nothing to delete under /admin/{collection}.")
    if collection == "authorizations":
        return _removed_or_proposed(await four_eyes.delete("authorization", (key,), actor))
    await registry.delete(_DELETABLE[collection], (key,))
    return Response(status_code=204)
