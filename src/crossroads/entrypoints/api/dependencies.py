"""Typed access to the hub's use cases for the HTTP routes: one small FastAPI dependency per
service, so that a route names what it calls (`exchange: ExchangeDep`) instead of reaching into
the wiring. The hub is built in one place (bootstrap.py) and kept on the application's state;
`hub_of` is the one reader of that state for the API's routes.

The accessors are `async def` although they never await: FastAPI runs a plain `def` dependency in
a thread pool, a hop that costs more than the lookup (see security.py). Code reached past
FastAPI's dependency injection (the exchange's direct route, the security dependencies, the error
handlers) reads the typed hub with `hub_of(request)`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ...adapters.oidc import OidcSignIn
from ...bootstrap import Hub
from ...config import Settings
from ...domain.identifiers import IdentifierScheme
from ...domain.operators import Actor
from ...domain.subjects import SubjectHasher
from ...services.auth import TokenService
from ...services.citizen import ConsultationHistory
from ...services.clock import Clock
from ...services.declaration_batches import DeclarationBatches
from ...services.declaration_queries import DeclarationQueries
from ...services.declarations import DeclarationService
from ...services.directory import DirectoryService
from ...services.exchange import ExchangeService
from ...services.four_eyes import FourEyes
from ...services.hub_status import HubStatus
from ...services.information_model import InformationModel
from ...services.initial_sync import InitialSync
from ...services.mutations import MutationService
from ...services.operators import OperatorAdmin
from ...services.ports import Signer
from ...services.refusals import RefusalLog
from ...services.registry import RegistryAdmin
from ...services.registry_queries import RegistryQueries
from ...services.transparency import AuditProofs


def hub_of(request: Request) -> Hub:
    return request.app.state.hub


async def settings(request: Request) -> Settings:
    return hub_of(request).settings


async def clock(request: Request) -> Clock:
    return hub_of(request).clock


async def signer(request: Request) -> Signer:
    return hub_of(request).keys


async def token_service(request: Request) -> TokenService:
    return hub_of(request).tokens


async def exchange_service(request: Request) -> ExchangeService:
    return hub_of(request).exchange


async def registry_admin(request: Request) -> RegistryAdmin:
    """The registry's use cases, each change audited with the operator of the request (the
    admin routes' own dependency has authenticated them first)."""
    actor = getattr(getattr(request.state, "caller", None), "actor", None)
    registry = hub_of(request).registry
    return registry if actor is None else registry.by(actor.id)


async def current_actor(request: Request) -> Actor:
    """The operator the route's own dependency (security.operator_for) authenticated."""
    actor = getattr(getattr(request.state, "caller", None), "actor", None)
    if actor is None:  # a route wired without an operator dependency: a bug, not the caller's
        raise RuntimeError("no operator was authenticated for this route")
    return actor


async def operator_admin(request: Request) -> OperatorAdmin:
    return hub_of(request).operators


async def four_eyes(request: Request) -> FourEyes:
    return hub_of(request).four_eyes


async def operator_signin(request: Request) -> OidcSignIn | None:
    """None when operators' sign-in is not configured on this hub."""
    return hub_of(request).operator_signin


async def registry_queries(request: Request) -> RegistryQueries:
    return hub_of(request).registry_queries


async def information_model(request: Request) -> InformationModel:
    return hub_of(request).information


async def directory_service(request: Request) -> DirectoryService:
    return hub_of(request).directory


async def initial_sync(request: Request) -> InitialSync:
    return hub_of(request).initial_sync


async def mutation_service(request: Request) -> MutationService:
    return hub_of(request).mutations


async def declaration_service(request: Request) -> DeclarationService:
    return hub_of(request).declarations


async def declaration_batches(request: Request) -> DeclarationBatches:
    return hub_of(request).declaration_batches


async def declaration_queries(request: Request) -> DeclarationQueries:
    return hub_of(request).declaration_queries


async def audit_proofs(request: Request) -> AuditProofs:
    return hub_of(request).audit_proofs


async def refusal_log(request: Request) -> RefusalLog:
    return hub_of(request).refusals


async def consultation_history(request: Request) -> ConsultationHistory:
    return hub_of(request).history


async def hub_status(request: Request) -> HubStatus:
    return hub_of(request).status


async def identifier_scheme(request: Request) -> IdentifierScheme:
    return hub_of(request).scheme


async def subject_hasher(request: Request) -> SubjectHasher:
    return hub_of(request).hasher


async def citizen_signin(request: Request) -> OidcSignIn | None:
    """None when citizen sign-in is not configured on this hub."""
    return hub_of(request).citizen_signin


async def portal_signin(request: Request) -> OidcSignIn | None:
    """None when the sign-in of people acting for an enterprise or institution is off."""
    return hub_of(request).portal_signin


async def development_signin(request: Request) -> bool:
    """Whether citizens sign in at the demo's development identity provider."""
    return hub_of(request).dev_idp is not None


SettingsDep = Annotated[Settings, Depends(settings)]
ClockDep = Annotated[Clock, Depends(clock)]
SignerDep = Annotated[Signer, Depends(signer)]
TokensDep = Annotated[TokenService, Depends(token_service)]
ExchangeDep = Annotated[ExchangeService, Depends(exchange_service)]
RegistryAdminDep = Annotated[RegistryAdmin, Depends(registry_admin)]
RegistryQueriesDep = Annotated[RegistryQueries, Depends(registry_queries)]
InformationModelDep = Annotated[InformationModel, Depends(information_model)]
DirectoryDep = Annotated[DirectoryService, Depends(directory_service)]
InitialSyncDep = Annotated[InitialSync, Depends(initial_sync)]
MutationsDep = Annotated[MutationService, Depends(mutation_service)]
DeclarationsDep = Annotated[DeclarationService, Depends(declaration_service)]
DeclarationBatchesDep = Annotated[DeclarationBatches, Depends(declaration_batches)]
DeclarationQueriesDep = Annotated[DeclarationQueries, Depends(declaration_queries)]
AuditProofsDep = Annotated[AuditProofs, Depends(audit_proofs)]
RefusalLogDep = Annotated[RefusalLog, Depends(refusal_log)]
HubStatusDep = Annotated[HubStatus, Depends(hub_status)]
HistoryDep = Annotated[ConsultationHistory, Depends(consultation_history)]
SchemeDep = Annotated[IdentifierScheme, Depends(identifier_scheme)]
HasherDep = Annotated[SubjectHasher, Depends(subject_hasher)]
ActorDep = Annotated[Actor, Depends(current_actor)]
OperatorAdminDep = Annotated[OperatorAdmin, Depends(operator_admin)]
FourEyesDep = Annotated[FourEyes, Depends(four_eyes)]
OperatorSignInDep = Annotated[OidcSignIn | None, Depends(operator_signin)]
CitizenSignInDep = Annotated[OidcSignIn | None, Depends(citizen_signin)]
PortalSignInDep = Annotated[OidcSignIn | None, Depends(portal_signin)]
DevelopmentSignInDep = Annotated[bool, Depends(development_signin)]
