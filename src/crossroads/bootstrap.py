"""Wiring: build every adapter and service from the settings, explicitly, in one place."""

from __future__ import annotations

import json
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import config_sources
from .adapters.admin_token import MIN_LENGTH, AdminToken
from .adapters.batch_worker import ProcessBatchWorker
from .adapters.be_reference import BelgianReference, load_reference
from .adapters.federation_folder import FederationFolder
from .adapters.federation_jose import JoseFederation
from .adapters.head_targets import DirectoryTarget, WitnessTarget
from .adapters.http1_client import Http1ProviderClient
from .adapters.identifier_seal import IdentifierSeal
from .adapters.in_process_sources import InProcessSources
from .adapters.jetstream import JetStreamPushQueue
from .adapters.key_folder import NoHubKey
from .adapters.keys import HubKeys
from .adapters.official_forms import XmlOfficialForms
from .adapters.oidc import OidcSignIn
from .adapters.open_data import FolderOpenData
from .adapters.opendp_noise import OpenDpNoise
from .adapters.openfisca_country.rules import OpenFiscaRules
from .adapters.outbox_queue import OutboxPushQueue
from .adapters.peer_documents import HttpPeerDocuments
from .adapters.provider_client import AiohttpProviderClient
from .adapters.sql.store import SqlStore, open_store
from .adapters.warehouse.duckdb import DuckDbWarehouse
from .config import Settings
from .domain.callers import Caller
from .domain.declarations.dimona import DimonaRules
from .domain.declarations.dmfa import DmfaRules
from .domain.declarations.records import DIMONA, DMFA
from .domain.errors import Refusal
from .domain.identifiers import IdentifierScheme, scheme_for
from .domain.statistics.pseudonyms import Pseudonymiser
from .domain.statistics.published import DEFAULT_TABLES, PublishedTable, tables_from
from .domain.subjects import SubjectHasher
from .domain.webhooks import WebhookPolicy
from .entrypoints.logs import configure as configure_logs
from .services.activity import RecentActivity
from .services.archive import AuditArchive
from .services.arrivals import Arrivals
from .services.auth import TokenService
from .services.batch_processing import BatchProcessor
from .services.citizen import ConsultationHistory
from .services.clock import Clock
from .services.data_reports import DataReports
from .services.declaration_batches import BatchLimits, DeclarationBatches
from .services.declaration_events import DeclarationPublisher
from .services.declaration_queries import DeclarationQueries
from .services.declarations import DeclarationService
from .services.deferred_audit import DeferredAudit
from .services.directory import DirectoryService
from .services.exchange import ExchangeService
from .services.federation import Federation
from .services.four_eyes import FourEyes
from .services.head_publisher import HeadPublisher, HeadTarget
from .services.hub_status import HubStatus
from .services.identifier_links import IdentifierLinks
from .services.information_model import InformationModel
from .services.initial_sync import InitialSync
from .services.log_auditor import LogAuditor
from .services.log_restore import LogRestore
from .services.member_load import MemberLoad
from .services.mutations import MutationService
from .services.operators import OperatorAdmin
from .services.peer_mutations import PeerMutations
from .services.person_sessions import PersonSessions
from .services.personal_data import PersonalData
from .services.ports import (
    ExtractSource,
    MutationStore,
    OpenData,
    ProviderClient,
    PushQueue,
    Rules,
    SeenRequests,
    Warehouse,
)
from .services.push import PushDispatcher
from .services.push_partitions import PushPartitions
from .services.refusals import RefusalLog
from .services.registry import RegistryAdmin
from .services.registry_cache import RegistryCache
from .services.registry_queries import RegistryQueries
from .services.rights_competence import CompetenceAdmin
from .services.rights_engine import RightsEngine
from .services.rights_facts import FactReader
from .services.rights_nontakeup import NonTakeUp
from .services.rights_simulation import RightsSimulation
from .services.rights_triggers import RightsTriggers
from .services.session_records import SessionRecords
from .services.statistics_extraction import ExtractionBasis, WarehouseExtraction
from .services.statistics_publication import StatisticsPublication
from .services.statistics_queries import Protection, StatisticsQueries
from .services.statistics_schedule import StatisticsSchedule
from .services.transparency import AuditProofs, Sequencer

log = logging.getLogger("crossroads.bootstrap")


@dataclass
class Hub:
    settings: Settings
    store: SqlStore
    keys: HubKeys
    scheme: IdentifierScheme
    hasher: SubjectHasher
    clock: Clock
    admin_token: AdminToken
    session_secret: str
    sessions: SessionRecords  # the browser sessions signed in (services/session_records.py)
    person_sessions: PersonSessions  # one person's sessions, ended by an operator
    tokens: TokenService
    registry: RegistryAdmin
    refusals: RefusalLog
    registry_queries: RegistryQueries
    registry_cache: RegistryCache  # the registry as the exchange reads it, cached
    information: InformationModel  # the portal's public pages
    declaration_queries: DeclarationQueries
    status: HubStatus
    directory: DirectoryService
    exchange: ExchangeService
    member_load: MemberLoad  # each member's requests in flight over HTTP, bounded
    deferred_audit: DeferredAudit
    mutations: MutationService
    initial_sync: InitialSync
    push: PushDispatcher
    push_partitions: PushPartitions
    push_queue: PushQueue
    providers: ProviderClient
    webhooks: ProviderClient  # the same client as `providers` when one was handed in
    sequencer: Sequencer
    audit_proofs: AuditProofs
    auditor: LogAuditor
    archive: AuditArchive
    publisher: HeadPublisher
    history: ConsultationHistory
    personal_data: PersonalData  # the citizen's own data, through the hub
    own_sources: InProcessSources  # the hub's own sources, for personal_data in the process
    identifier_seal: IdentifierSeal  # the citizen's identifier, sealed in their session
    data_reports: DataReports  # citizens' reports of wrong data, for their sources
    declarations: DeclarationService
    declaration_batches: DeclarationBatches
    declaration_publisher: DeclarationPublisher
    citizen_signin: OidcSignIn | None  # None: citizen sign-in is not configured
    operators: OperatorAdmin
    four_eyes: FourEyes
    operator_signin: OidcSignIn | None  # None: operators' sign-in is not configured
    portal_signin: OidcSignIn | None  # None: employers' and institutions' sign-in is off
    warehouse: Warehouse
    statistics_extraction: WarehouseExtraction
    statistics: StatisticsQueries
    statistics_publication: StatisticsPublication
    statistics_schedule: StatisticsSchedule
    open_data: OpenData
    activity: RecentActivity  # the portal's charts: the last days' exchanges, refusals, delays
    rules: Rules
    rights_simulation: RightsSimulation
    rights_competence: CompetenceAdmin  # each right's competent institution, in the registry
    # The rights engine and what runs on it; None when CROSSROADS_RIGHTS_ENGINE is unset.
    rights: RightsEngine | None = None
    rights_triggers: RightsTriggers | None = None
    non_take_up: NonTakeUp | None = None
    federation: Federation | None = None  # None: CROSSROADS_FEDERATION_INSTANCE is unset
    peer_mutations: PeerMutations | None = None  # with federation
    identifier_links: IdentifierLinks | None = None  # with federation
    # The demo's development identity provider, set by the demo's own wiring (demo/wiring.py);
    # production never builds one. Typed loosely so that production never imports the demo.
    dev_idp: Any = None

    async def close(self) -> None:
        await self.declaration_batches.close()
        await self.providers.close()
        if self.webhooks is not self.providers:
            await self.webhooks.close()
        await self.publisher.close()
        await self.push_queue.close()
        await self.deferred_audit.close()
        await self.warehouse.close()
        await self.store.close()


@dataclass(frozen=True)
class Secrets:
    admin_token: str
    subject_secret: bytes
    session_secret: str
    warehouse_secret: bytes


def load_secrets(settings: Settings) -> Secrets:
    """The operator token, the subject hash secret and the session cookie key: from the settings,
    else from data_dir.

    Generated once into data_dir/secrets.json (mode 600) when not given, so a single-node hub
    needs no set-up; several hub processes on several machines must share them (set them all).
    """
    path = settings.data_dir / "secrets.json"
    stored: dict = json.loads(path.read_text()) if path.exists() else {}
    generated = {
        "admin_token": (settings.admin_token, lambda: secrets.token_urlsafe(32)),
        "subject_hash_secret": (settings.subject_hash_secret, lambda: secrets.token_hex(32)),
        "session_secret": (settings.session_secret, lambda: secrets.token_urlsafe(32)),
        "warehouse_secret": (settings.warehouse_secret, lambda: secrets.token_hex(32)),
    }
    changed = False
    for name, (given, make) in generated.items():
        if given is None and name not in stored:
            stored[name] = make()
            changed = True
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored, indent=2))
        path.chmod(0o600)

    def value(name: str) -> str:
        given = generated[name][0]
        return given.get_secret_value() if given is not None else stored[name]

    admin = value("admin_token")
    if len(admin) < MIN_LENGTH:
        raise ValueError("CROSSROADS_ADMIN_TOKEN must be at least 16 characters")
    return Secrets(
        admin,
        value("subject_hash_secret").encode(),
        value("session_secret"),
        value("warehouse_secret").encode(),
    )


async def open_settings_store(settings: Settings, pool_size: int) -> SqlStore:
    """The store `settings` name, with their bounds and audit commit delay, for a process that
    serves (the hub, the declarations' batch processor)."""
    return await open_store(
        settings.store_url,
        pool_size=pool_size,
        wait_seconds=settings.store_timeout,
        statement_seconds=settings.store_statement_timeout,
        audit_commit_delay_seconds=settings.audit_commit_delay_ms / 1000,
    )


async def bootstrap(
    settings: Settings,
    clock: Clock | None = None,
    providers: ProviderClient | None = None,
    oidc_http: dict | None = None,
    *,
    create_keys: bool = False,
) -> Hub:
    """Build the hub. `providers` replaces the HTTP client to providers, and `oidc_http` adds
    arguments to the client that reaches the citizens' identity provider (tests reach both
    in-process).

    The hub's signing key must be in data_dir already: only the hub that signs makes its first
    key (`crossroads serve`, `keys init`, the demo: `create_keys`). Any other command run with a
    wrong or missing data folder stops here with NoHubKey, before it opens the store or writes
    anything, rather than sign the log with a key of its own."""
    clock = clock or Clock()
    keys = hub_keys(settings, create=create_keys)
    loaded = load_secrets(settings)
    store = await open_settings_store(settings, settings.store_pool_size)
    scheme = scheme_for(settings.country)
    hasher = SubjectHasher(loaded.subject_secret)
    cache = RegistryCache(store.registry, settings.registry_cache_seconds)
    webhooks = providers or AiohttpProviderClient(
        settings.provider_connect_timeout,
        settings.provider_read_timeout,
        settings.provider_pool_size,
        public_only=not settings.allow_internal_webhooks,
        per_host=settings.provider_pool_per_host,
        tls=settings.outbound_tls("webhook").context(),
        span_name="push delivery",
        max_bytes=settings.provider_max_answer_bytes,
    )
    providers = providers or Http1ProviderClient(
        settings.provider_connect_timeout,
        settings.provider_read_timeout,
        settings.provider_pool_size,
        per_host=settings.provider_pool_per_host,
        tls=settings.outbound_tls("provider").context(),
        max_bytes=settings.provider_max_answer_bytes,
    )
    if settings.allow_internal_webhooks:
        log.warning(
            "CROSSROADS_ALLOW_INTERNAL_WEBHOOKS is on: members' webhooks may reach loopback, "
            "link-local and private addresses, and the hub signs what it sends there. Never in "
            "production."
        )
    citizen_issuer = settings.citizen_issuer()
    secret = settings.citizen_oidc_client_secret
    signin = (
        None
        if citizen_issuer is None
        else OidcSignIn(
            citizen_issuer,
            settings.citizen_oidc_client_id,
            secret.get_secret_value() if secret else None,
            settings.citizen_identifier_claim,
            oidc_http,
        )
    )
    operator_issuer = settings.operator_issuer()
    operator_secret = settings.operator_oidc_client_secret
    operator_signin = (
        None
        if operator_issuer is None
        else OidcSignIn(
            operator_issuer,
            settings.operator_oidc_client_id,
            operator_secret.get_secret_value() if operator_secret else None,
            settings.operator_subject_claim,
            oidc_http,
            name="operator",
        )
    )
    portal_issuer = settings.portal_issuer()
    portal_secret = settings.portal_oidc_client_secret
    portal_signin = (
        None
        if portal_issuer is None
        else OidcSignIn(
            portal_issuer,
            settings.portal_oidc_client_id,
            portal_secret.get_secret_value() if portal_secret else None,
            "sub",
            oidc_http,
            name="portal",
        )
    )
    registry = RegistryAdmin(
        store.registry,
        store.audit,
        clock,
        scheme,
        cache,
        store.mutations,
        FederationFolder(settings.data_dir / "federation").peers,
    )
    rules = OpenFiscaRules()
    sessions = SessionRecords(store.browser_sessions, clock, settings.session_lifetime_seconds)
    operator_admin = OperatorAdmin(store.operators, store.audit, clock, sessions)
    competence = CompetenceAdmin(
        store.rights_competence,
        store.registry,
        lambda: {right["code"] for right in rules.rights()},
        store.audit,
        clock,
        scheme,
    )
    proofs = AuditProofs(store.transparency)
    push_queue = await open_push_queue(settings, store.mutations)
    directory = DirectoryService(
        store.directory,
        store.registry,
        store.audit,
        clock,
        scheme,
        hasher,
        settings.provisional_days,
    )
    # Wakes the rights engine when a change reaches its mailbox, through any process.
    arrivals = Arrivals(store.arrival_bells)
    mutations = MutationService(
        store.mutations,
        store.registry,
        store.directory,
        store.audit,
        clock,
        scheme,
        hasher,
        cache,
        push_queue,
        WebhookPolicy(settings.issuer, settings.allow_internal_webhooks),
        arrivals,
    )
    reference = load_reference(settings.dmfa_rates)
    declarations = declaration_service(settings, store, reference, clock, scheme, hasher)
    sequencer = Sequencer(
        store.transparency,
        keys,
        clock,
        head_every_entries=settings.tree_head_every_entries,
        head_every_seconds=settings.tree_head_every_seconds,
        # Until the publisher has compared the log with the witnesses' heads: a store restored
        # to an earlier point signs nothing that contradicts them (docs/operations.md).
        held="comparing the log with the witnesses' heads" if settings.witness_urls else None,
    )
    publisher = HeadPublisher(
        store.transparency, proofs.consistency, head_targets(settings), sequencer.hold_heads
    )
    push = PushDispatcher(
        store.mutations,
        push_queue,
        webhooks,
        keys,
        store.audit,
        clock,
        max_attempts=settings.push_max_attempts,
        retry_base_seconds=settings.push_retry_base_seconds,
        retry_max_seconds=settings.push_retry_max_seconds,
        batch=settings.push_batch,
        check_address=mutations.check_push,
    )
    declaration_publisher = DeclarationPublisher(
        store.declarations,
        mutations,
        scheme.normalise_enterprise(settings.declarations_source, "declarations_source")
        if settings.declarations_source
        else None,
    )
    deferred_audit = DeferredAudit(store.audit)
    federation = federation_of(settings, keys, cache, store.seen_requests, clock)
    links = (
        IdentifierLinks(store.identifier_links, federation, store.audit, clock, scheme, hasher)
        if federation
        else None
    )

    def exchange_through(client: ProviderClient) -> ExchangeService:
        return ExchangeService(
            store.registry,
            store.directory,
            store.audit,
            client,
            keys,
            clock,
            scheme,
            hasher,
            cache,
            deferred_audit,
            federation.peer_institution if federation else lambda number: None,
            links,
        )

    exchange = exchange_through(providers)
    # The citizen's data page asks the hub's own sources in the process (the app mounts them at
    # start-up: entrypoints/api/app.py), the same exchange around it; every other one by HTTP.
    own_sources = InProcessSources(
        providers, settings.provider_read_timeout, settings.provider_max_answer_bytes
    )
    warehouse = DuckDbWarehouse(settings.warehouse_path or settings.data_dir / "warehouse.duckdb")
    statistics = StatisticsQueries(
        warehouse,
        cache,
        store.privacy_budgets,
        OpenDpNoise(),
        store.audit,
        clock,
        Protection(
            settings.statistics_threshold,
            settings.statistics_budget_epsilon,
            settings.statistics_max_query_epsilon,
            settings.statistics_contributions,
        ),
    )
    open_data = FolderOpenData(statistics_folder(settings) / "published")
    extraction = statistics_extraction(settings, store, warehouse, clock, hasher, loaded)
    publication = StatisticsPublication(
        statistics,
        warehouse,
        open_data,
        store.audit,
        clock,
        published_tables(settings),
        settings.statistics_legal_basis,
    )
    engine = rights_engine(settings, store, exchange, rules, mutations, clock, scheme, hasher)
    personal_data = PersonalData(
        exchange_through(own_sources), cache, clock, settings.own_access_institution
    )
    return Hub(
        rules=rules,
        rights=engine,
        rights_triggers=None if engine is None else RightsTriggers(engine, mutations, arrivals),
        rights_simulation=RightsSimulation(
            None if engine is None else engine.reader,
            rules,
            clock,
            settings.rights_simulations_at_once,
        ),
        non_take_up=None if engine is None else NonTakeUp(engine, rules, None, store.audit, clock),
        warehouse=warehouse,
        statistics_extraction=extraction,
        statistics=statistics,
        open_data=open_data,
        statistics_publication=publication,
        statistics_schedule=StatisticsSchedule(extraction, publication),
        settings=settings,
        store=store,
        keys=keys,
        scheme=scheme,
        hasher=hasher,
        clock=clock,
        admin_token=admin_token(settings, loaded),
        session_secret=loaded.session_secret,
        sessions=sessions,
        person_sessions=PersonSessions(sessions, scheme, hasher, store.audit, clock),
        tokens=TokenService(
            store.registry,
            store.replay,
            store.audit,
            keys,
            clock,
            issuer=settings.issuer,
            token_ttl=settings.token_ttl_seconds,
            max_assertion_lifetime=settings.assertion_max_lifetime_seconds,
            operators=store.operators,
        ),
        registry=registry,
        operators=operator_admin,
        four_eyes=FourEyes(
            registry,
            store.operators,
            store.audit,
            clock,
            settings.four_eyes,
            competence,
            operator_admin,
            settings.proposal_lifetime_seconds,
        ),
        rights_competence=competence,
        operator_signin=operator_signin,
        portal_signin=portal_signin,
        refusals=RefusalLog(store.audit, clock, deferred_audit),
        directory=directory,
        exchange=exchange,
        member_load=MemberLoad(settings.member_concurrency),
        federation=federation,
        peer_mutations=PeerMutations(federation, mutations, links) if federation else None,
        identifier_links=links,
        deferred_audit=deferred_audit,
        mutations=mutations,
        initial_sync=InitialSync(
            directory, store.mutations, cache, providers, keys, store.audit, clock, scheme, hasher
        ),
        push=push,
        push_queue=push_queue,
        push_partitions=PushPartitions(
            [store.push_partition_lease(n) for n in range(settings.push_partitions)]
        ),
        providers=providers,
        webhooks=webhooks,
        sequencer=sequencer,
        audit_proofs=proofs,
        auditor=LogAuditor(store.transparency, keys.jwks),
        archive=AuditArchive(store.transparency, keys.jwks, clock),
        publisher=publisher,
        history=ConsultationHistory(store.transparency, proofs, cache, store.mutations),
        personal_data=personal_data,
        own_sources=own_sources,
        identifier_seal=IdentifierSeal(loaded.session_secret),
        data_reports=DataReports(
            store.data_reports, exchange, personal_data, store.audit, clock, hasher
        ),
        citizen_signin=signin,
        declarations=declarations,
        declaration_batches=DeclarationBatches(
            store.declarations,
            ProcessBatchWorker(open_batch_processor, settings),
            store.audit,
            clock,
            batch_limits(settings),
            declarations.check_declarant,
        ),
        declaration_publisher=declaration_publisher,
        registry_queries=RegistryQueries(store.registry, store.mutations),
        activity=RecentActivity(store.audit, store.statistics, clock),
        registry_cache=cache,
        information=InformationModel(
            RegistryQueries(store.registry, store.mutations),
            {"dimona": reference.dimona.glossary, "dmfa": reference.dmfa.glossary},
        ),
        declaration_queries=DeclarationQueries(store.declarations, scheme),
        status=HubStatus(
            store.ping,
            store.declarations,
            sequencer,
            publisher,
            push,
            declaration_publisher,
            ready_timeout=settings.ready_timeout,
            push_queue=push_queue,
            mutations=store.mutations,
            now_ms=clock.now_ms,
            push_stall_seconds=settings.push_stall_seconds,
        ),
    )


def rights_engine(
    settings: Settings,
    store: SqlStore,
    exchange: ExchangeService,
    rules: Rules,
    mutations: MutationService,
    clock: Clock,
    scheme: IdentifierScheme,
    hasher: SubjectHasher,
) -> RightsEngine | None:
    """The rights engine, a member reading through `exchange` as its application; None unset."""
    if settings.rights_engine is None:
        return None
    institution, _, application = settings.rights_engine.partition(":")
    if not institution or not application:
        raise ValueError("CROSSROADS_RIGHTS_ENGINE is INSTITUTION:APPLICATION")
    caller = Caller(scheme.normalise_enterprise(institution, "rights_engine"), application)
    reader = FactReader(exchange, caller, settings.rights_purpose)
    return RightsEngine(
        reader,
        rules,
        store.rights,
        mutations,
        store.audit,
        scheme,
        hasher,
        clock,
        store.rights_competence,
    )


def with_extract(hub: Hub, source: ExtractSource) -> None:
    """Give the non-take-up scan its extract (the demo's, or a country's warehouse)."""
    if hub.rights is not None:
        hub.non_take_up = NonTakeUp(hub.rights, hub.rules, source, hub.store.audit, hub.clock)


def federation_of(
    settings: Settings, keys: HubKeys, cache: RegistryCache, seen: SeenRequests, clock: Clock
) -> Federation | None:
    """Federation with the peers pinned in data_dir/federation, when the hub has an instance."""
    if settings.federation_instance is None:
        return None

    async def describe(codes: frozenset[str]) -> list[dict]:
        found = [await cache.service(code, None) for code in sorted(codes)]
        return [
            {
                "code": s.code,
                "version": s.version,
                "name": s.name,
                "response_fields": list(s.response_fields),
                "request_schema": s.request_schema,
                "response_schema": s.response_schema,
            }
            for s in found
            if s is not None
        ]

    return Federation(
        settings.federation_instance,
        settings.issuer,
        FederationFolder(settings.data_dir / "federation"),
        HttpPeerDocuments(
            settings.provider_connect_timeout + settings.provider_read_timeout,
            settings.outbound_tls("provider").context(),
        ),
        JoseFederation(keys),
        keys.jwks,
        describe,
        seen,
        clock,
        cache.institution,
        lifetime_seconds=settings.federation_document_seconds,
        refresh_seconds=settings.federation_refresh_seconds,
        scheme=settings.country,
    )


def admin_token(settings: Settings, loaded: Secrets) -> AdminToken:
    """The static admin token, read again from its file when that changes (see
    adapters/admin_token.py); fixed when given in the variable itself."""
    enabled = settings.admin_token_enabled
    if settings.admin_token is None:
        return AdminToken(
            path=settings.data_dir / "secrets.json", json_key="admin_token", enabled=enabled
        )
    path = config_sources.secret_file("admin_token", os.environ)
    if path is not None:
        return AdminToken(path=path, enabled=enabled)
    return AdminToken(fixed=loaded.admin_token, enabled=enabled)


def hub_keys(settings: Settings, create: bool = False) -> HubKeys:
    """The hub's signing keys from data_dir/keys (the first made when `create`; else NoHubKey
    when there is none), read again every `keys_reload_seconds`."""
    folder = settings.data_dir / "keys"
    if create:
        return HubKeys.load_or_create(folder, settings.keys_reload_seconds)
    try:
        return HubKeys.load(folder, settings.keys_reload_seconds)
    except NoHubKey:
        raise NoHubKey(
            f"no hub signing key in {folder}: run this command with the hub's own data folder "
            "(CROSSROADS_DATA_DIR), or set up a new hub with `crossroads keys init` or "
            "`crossroads serve`"
        ) from None


def declaration_service(
    settings: Settings,
    store: SqlStore,
    reference: BelgianReference,
    clock: Clock,
    scheme: IdentifierScheme,
    hasher: SubjectHasher,
) -> DeclarationService:
    forms = XmlOfficialForms(
        reference, max(settings.dimona_batch_max_bytes, settings.dmfa_batch_max_bytes)
    )
    dimona_rules = DimonaRules(
        reference.dimona.glossary,
        reference.joint_committees,
        scheme.person_or_none,
        settings.dimona_late_tolerance_days,
        scheme.enterprise_is_valid,
    )
    dmfa_rules = DmfaRules(
        reference.dmfa.glossary,
        reference.joint_committees,
        reference.remuneration,
        reference.working_time,
        reference.worker_codes,
        reference.rates,
        scheme.person_or_none,
    )
    return DeclarationService(
        store.declarations, forms, dimona_rules, dmfa_rules, store.audit, clock, scheme, hasher
    )


def statistics_extraction(
    settings: Settings,
    store: SqlStore,
    warehouse: Warehouse,
    clock: Clock,
    hasher: SubjectHasher,
    loaded: Secrets,
) -> WarehouseExtraction:
    return WarehouseExtraction(
        store.statistics,
        warehouse,
        store.audit,
        clock,
        hasher,
        Pseudonymiser(loaded.warehouse_secret),
        ExtractionBasis(settings.statistics_purpose, settings.statistics_legal_basis),
        settings.statistics_threshold,
        parquet=statistics_folder(settings) / "warehouse",
    )


def statistics_folder(settings: Settings) -> Path:
    """Where the warehouse's Parquet extracts and the published open data go."""
    return settings.statistics_export_dir or settings.data_dir / "statistics"


def published_tables(settings: Settings) -> tuple[PublishedTable, ...]:
    """The operator's tables (CROSSROADS_STATISTICS_TABLES), else those shipped with the hub; a
    document that does not hold valid tables stops the start with its reason."""
    if settings.statistics_tables is None:
        return DEFAULT_TABLES
    try:
        return tables_from(json.loads(settings.statistics_tables.read_text()))
    except (OSError, ValueError, Refusal) as exc:
        where = settings.statistics_tables
        raise ValueError(f"CROSSROADS_STATISTICS_TABLES {where}: {exc}") from None


def batch_limits(settings: Settings) -> BatchLimits:
    return BatchLimits(
        {DIMONA: settings.dimona_batch_max_bytes, DMFA: settings.dmfa_batch_max_bytes},
        settings.declaration_batch_quota_files,
        settings.declaration_batch_quota_bytes,
        settings.declaration_batch_max_attempts,
    )


async def open_batch_processor(settings: Settings) -> BatchProcessor:
    """The batch worker process's own wiring (adapters/batch_worker.py): a store of its own and
    the declarations service, built from the same settings as the hub that started it."""
    configure_logs(settings.log_level)
    clock = Clock()
    loaded = load_secrets(settings)
    store = await open_settings_store(settings, pool_size=2)
    scheme = scheme_for(settings.country)
    declarations = declaration_service(
        settings,
        store,
        load_reference(settings.dmfa_rates),
        clock,
        scheme,
        SubjectHasher(loaded.subject_secret),
    )
    return BatchProcessor(
        store.declarations, declarations, declarations.forms, store.audit, clock, store.close
    )


async def open_push_queue(settings: Settings, mutations: MutationStore) -> PushQueue:
    """The outbox itself (the embedded default), or NATS JetStream fed from it (production)."""
    if settings.mutation_backend == "outbox":
        return OutboxPushQueue(mutations)
    return await JetStreamPushQueue.connect(
        settings.nats_url,
        mutations,
        settings.nats_stream,
        batch=settings.push_batch,
        poll_seconds=settings.push_interval_seconds,
        ack_wait_seconds=settings.nats_ack_wait_seconds,
        replicas=settings.nats_stream_replicas,
        connect_options=nats_options(settings),
    )


def nats_options(settings: Settings) -> dict:
    """TLS and credentials for nats.connect, only those that are set (nats-py's defaults
    otherwise)."""
    creds, token = settings.nats_credentials_file, settings.nats_token
    options: dict = {
        "tls": settings.outbound_tls("nats").context(),
        "user_credentials": str(creds) if creds else None,
        "token": token.get_secret_value() if token else None,
    }
    return {name: value for name, value in options.items() if value is not None}


def head_targets(settings: Settings) -> list[HeadTarget]:
    tls = settings.outbound_tls("witness").context()
    targets: list[HeadTarget] = [WitnessTarget(url, tls=tls) for url in settings.witness_urls]
    if settings.tree_head_publish_dir is not None:
        targets.append(DirectoryTarget(settings.tree_head_publish_dir))
    return targets


def settings_for_data_dir(data_dir: Path, **overrides) -> Settings:
    """Settings for a self-contained folder (the demo): SQLite inside it unless a store is given."""
    overrides.setdefault("store_url", f"sqlite:///{data_dir / 'crossroads.sqlite3'}")
    return Settings(data_dir=data_dir, **overrides)


def restore_tools(hub: Hub) -> tuple[LogRestore, list[WitnessTarget]]:
    """What `crossroads audit restore-check | restore-recover` use: the log's restore service
    and a client of each configured witness (close them after use)."""
    restore = LogRestore(
        hub.store.transparency,
        hub.store.audit,
        hub.sequencer,
        hub.audit_proofs,
        hub.keys.jwks,
        hub.clock,
    )
    tls = hub.settings.outbound_tls("witness").context()
    return restore, [WitnessTarget(url, tls=tls) for url in hub.settings.witness_urls]
