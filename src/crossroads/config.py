"""Settings: one typed object read from `CROSSROADS_*` environment variables.

A bad value stops the hub at start-up with the variable's name. Secrets (and the URLs that may hold
a password) may be read from files instead (`CROSSROADS_X_FILE`, config_sources.py). Every setting
is documented in docs/configuration.md; a test fails when one is not.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

from . import config_sources
from .adapters.tls import OutboundTls

TLS_PEERS = ("provider", "webhook", "witness", "nats")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CROSSROADS_", extra="forbid", frozen=True)

    store_url: str = Field(
        "sqlite:///var/crossroads.sqlite3",
        description=(
            "Where the hub keeps its state: sqlite:///NAME.sqlite3 (its audit log beside it, in"
            " NAME.audit.sqlite3) or postgresql://USER@HOST:PORT/DB."
        ),
    )
    data_dir: Path = Field(
        Path("var"), description="Folder for the hub's signing keys and generated secrets."
    )
    host: str = Field("127.0.0.1", description="Address the HTTP server listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port the HTTP server listens on.")
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description=(
            "Hub processes started by `crossroads serve` (each stateless; share one store)."
        ),
    )
    country: Literal["BE", "EE"] = Field(
        "BE", description="Identifier scheme for persons and enterprises."
    )
    instance: str = Field(
        "BE",
        pattern=r"^[A-Za-z0-9-]{1,32}$",
        description="X-Road/GovStack instance identifier of this hub.",
    )
    issuer: str = Field(
        "http://127.0.0.1:8000",
        description="The hub's public base URL: token issuer and client assertion audience.",
    )
    token_ttl_seconds: int = Field(
        300, ge=30, le=3600, description="Lifetime of the access tokens the hub issues."
    )
    assertion_max_lifetime_seconds: int = Field(
        300, ge=30, le=3600, description="Longest exp - iat accepted in a client assertion."
    )
    admin_token: SecretStr | None = Field(
        None,
        description=(
            "Operator credential for the admin API (bearer). Generated into data_dir when unset."
        ),
    )
    admin_token_enabled: bool = Field(
        True,
        description=(
            "Whether the static admin token is accepted. Turn it off once operators sign in and "
            "service accounts have keys (docs/security.md, Operators)."
        ),
    )
    four_eyes: bool = Field(
        False,
        description=(
            "Four-eyes approval: a change to an authorization, an integration right or a right's "
            "competent institution, an application key, a member's address, webhook base or peer "
            "hub, the institution a service's requests go to, or an operator's creation, role or "
            "key, through the admin API or the operator's forms, becomes a proposal, applied "
            "when a different operator approves it."
        ),
    )
    proposal_lifetime_seconds: int = Field(
        604800,
        gt=0,
        description=(
            "How long a four-eyes proposal may wait for its approval: past it, it shows as "
            "expired and can no longer be approved or rejected (proposal_expired)."
        ),
    )
    operator_oidc_issuer: str | None = Field(
        None,
        description=(
            "OpenID Connect issuer operators sign in with (may be the citizens' one: the hub is "
            "then a second client there, with its own client_id and so its own audience). Unset: "
            "operators' sign-in is off, except in demo mode (the development identity provider)."
        ),
    )
    operator_oidc_client_id: str = Field(
        "crossroads-operator",
        min_length=1,
        description="The hub's client_id at the operators' identity provider.",
    )
    operator_oidc_client_secret: SecretStr | None = Field(
        None,
        description=(
            "The hub's client secret at the operators' identity provider (client_secret_post); "
            "unset: a public client with PKCE only."
        ),
    )
    operator_subject_claim: str = Field(
        "sub",
        min_length=1,
        description=(
            "ID token claim that names the operator; the operator's id on the hub is "
            "person:<that value>."
        ),
    )
    operator_session_seconds: int = Field(
        3600,
        ge=60,
        le=86400,
        description="An operator's session ends after this many seconds without a request.",
    )
    subject_hash_secret: SecretStr | None = Field(
        None,
        description=(
            "HMAC key for the keyed hashes of identifiers (>= 16 bytes). Generated into data_dir "
            "when unset."
        ),
    )
    max_body_bytes: int = Field(
        1_048_576, ge=1024, description="Largest request body accepted, in bytes."
    )
    max_header_bytes: int = Field(
        32_768,
        ge=4096,
        le=1_048_576,
        description=(
            "Largest request head (request line and headers) `crossroads serve` accepts, in "
            "bytes; a larger one is answered 431 and its connection closed."
        ),
    )
    header_timeout_seconds: float = Field(
        10.0,
        gt=0,
        le=300,
        description=(
            "Time a connection has to send a request's head, from its first byte (or from "
            "connecting); after it, 408 and the connection is closed."
        ),
    )
    body_timeout_seconds: float = Field(
        60.0,
        gt=0,
        le=3600,
        description=(
            "Time a request's body has to arrive once the hub starts reading it (and to finish "
            "arriving after the answer); after it, 408 and the connection is closed."
        ),
    )
    member_concurrency: int = Field(
        64,
        ge=1,
        le=10_000,
        description=(
            "Exchanges one member institution may have in flight in one hub process at the same "
            "time (POST /v1/exchange/…, /v1/holders, /v1/identifiers/{peer}, X-Road's /r1/…, a "
            "peer hub's /v1/federation/{peer}/exchange/… for each of its members); one more is "
            "refused 429 member_busy with Retry-After, before anything is read or audited, so "
            "that one member cannot take the hub's capacity from the others. Per process: "
            "`crossroads serve --workers N` admits up to N times as many."
        ),
    )
    provider_connect_timeout: float = Field(
        2.0, gt=0, description="Seconds to connect to a provider."
    )
    provider_read_timeout: float = Field(
        10.0,
        gt=0,
        description=(
            "Seconds to wait for a provider's or a webhook's answer; a call ends within "
            "connect + read timeout, however its answer trickles in."
        ),
    )
    provider_max_answer_bytes: int = Field(
        16 * 1024 * 1024,
        ge=1024,
        le=1024**3,
        description=(
            "Largest answer the hub reads from a provider or a webhook, in bytes (16 MiB); a "
            "larger one is refused `invalid_provider_response` without being read further. "
            "Every byte is held in memory while the answer is checked against its service's "
            "schema."
        ),
    )
    provider_pool_size: int = Field(
        200, ge=1, description="Pooled connections to providers, per hub process."
    )
    provider_pool_per_host: int = Field(
        50,
        ge=1,
        description=(
            "Most of those connections one provider or webhook host may hold (capped at the "
            "pool's size), so that a host that keeps its calls waiting leaves the rest to others."
        ),
    )
    store_pool_size: int = Field(10, ge=1, description="PostgreSQL connections per hub process.")
    store_timeout: float = Field(
        5.0,
        gt=0,
        description=(
            "Seconds to connect to PostgreSQL or to wait for a pooled connection; a silent network "
            "is given up on after as long (TCP keepalives, tcp_user_timeout). Past it a request "
            "is answered 503 `not_ready`."
        ),
    )
    store_statement_timeout: float = Field(
        30.0,
        gt=0,
        description=(
            "Seconds one PostgreSQL statement may wait on the server before its connection is "
            "cut and the request answered 503 `not_ready` (a server that stopped answering)."
        ),
    )
    audit_commit_delay_ms: float = Field(
        1.5,
        ge=0,
        le=20,
        description=(
            "How long a hub process lets its next audit commit gather more entries while they "
            "come in together (its last commit held more than one and ended less than 10 ms, or "
            "this delay, before), as PostgreSQL's commit_delay does: fewer, larger commits, each "
            "synced once. The wait ends as soon as every exchange under way has its record "
            "queued. An entry on a quiet hub is never delayed; 0 turns it off."
        ),
    )
    ready_timeout: float = Field(
        2.0,
        gt=0,
        description="Seconds `/ready` waits for the store before answering 503 `not_ready`.",
    )
    provisional_days: int = Field(
        30,
        ge=1,
        le=3660,
        description=(
            "How long a provisional (phase 1) integration runs from the day it is made, unless a "
            "definitive one confirms it."
        ),
    )
    allow_internal_webhooks: bool = Field(
        False,
        description=(
            "DANGER: let webhooks reach loopback, link-local and private addresses (a demo or a "
            "closed test network only). Logged as a warning at start-up."
        ),
    )
    registry_cache_seconds: float = Field(
        5.0,
        ge=0,
        description=(
            "How long a hub process reuses services and authorizations it read (0: always read)."
        ),
    )
    tree_head_every_entries: int = Field(
        1000,
        ge=1,
        description="Sign a new audit tree head once this many entries were added since the last.",
    )
    federation_instance: str | None = Field(
        None,
        description=(
            "This hub's instance identifier among federated hubs (letters, digits, '.', '_', '-'),"
            " published in its federation document (docs/federation.md). Unset: not federated."
        ),
    )
    federation_document_seconds: int = Field(
        86400,
        ge=60,
        description=(
            "How long a peer may believe this hub's federation document; the hub signs a new one"
            " after a tenth of that."
        ),
    )
    federation_refresh_seconds: float = Field(
        300.0,
        gt=0,
        description=(
            "How often the hub fetches a peer's federation document again (a peer out of reach "
            "keeps its last document until that expires)."
        ),
    )
    keys_reload_seconds: float = Field(
        30.0,
        ge=0,
        description=(
            "How often each hub process reads DATA_DIR/keys again, to publish, sign with or retire"
            " the keys `crossroads keys` changed (0: at every use)."
        ),
    )
    tree_head_every_seconds: float = Field(
        10.0,
        gt=0,
        description="Sign a new audit tree head at least this often while entries arrive.",
    )
    audit_archive_dir: Path | None = Field(
        None,
        description=(
            "Where `crossroads audit export` writes archive segments and `audit prune` checks "
            "them. Default: data_dir/audit-archive."
        ),
    )
    audit_retention_days: int | None = Field(
        None,
        ge=1,
        description=(
            "Audit entries older than this many days, once exported, are removed from the live "
            "store by `crossroads audit prune`. Unset: kept forever."
        ),
    )
    tree_head_publish_dir: Path | None = Field(
        None,
        description=(
            "Publish every signed tree head as a file into this folder (a write-once share "
            "outside the operator's control). Unset: not published to a folder."
        ),
    )
    witness_urls: list[str] = Field(
        default_factory=list,
        description=(
            "Base URLs of witnesses (`crossroads witness`) that countersign the tree heads after "
            "checking consistency; JSON list in the environment."
        ),
    )
    push_max_attempts: int = Field(
        10,
        ge=1,
        le=100,
        description=(
            "Attempts to push a mutation to a subscriber's webhook before it becomes a dead "
            "letter the operator sees (and can replay)."
        ),
    )
    push_retry_base_seconds: float = Field(
        1.0,
        gt=0,
        le=3600,
        description=(
            "Wait after a first failed push; each further failure doubles it, with random jitter, "
            "up to push_retry_max_seconds."
        ),
    )
    push_retry_max_seconds: float = Field(
        900.0, gt=0, le=86400, description="Longest wait between two push attempts."
    )
    push_batch: int = Field(
        100,
        ge=1,
        le=1000,
        description=(
            "Most messages sent to a webhook in one POST (a CloudEvents JSON batch, in order)."
        ),
    )
    push_partitions: int = Field(
        2,
        ge=1,
        le=64,
        description=(
            "The push subscriptions are dealt into this many partitions, each delivered by the "
            "hub process that holds its lease, so that several processes share the pushing (1: "
            "one process pushes for all)."
        ),
    )
    push_interval_seconds: float = Field(
        0.2,
        gt=0,
        le=60,
        description="How often the delivering process looks for due pushes when it found none.",
    )
    push_stall_seconds: float = Field(
        300.0,
        gt=0,
        description=(
            "How long a push subscription's next delivery may stay next, never tried, before "
            "/ready says push delivery is degraded and names how long (a webhook that fails and "
            "waits out its back-off, or that accepts slowly, does not count: that is the "
            "subscriber's trouble)."
        ),
    )
    mutation_backend: Literal["outbox", "nats"] = Field(
        "outbox",
        description=(
            "Where push deliveries wait for their webhooks: the outbox table itself (embedded "
            "default), or NATS JetStream fed from the outbox (production; the outbox stays the "
            "source of truth, mailboxes are read from it)."
        ),
    )
    nats_url: str = Field(
        "nats://127.0.0.1:4222",
        pattern=r"^(nats|tls)://",
        description="The NATS server (with JetStream) when mutation_backend is nats.",
    )
    nats_stream: str = Field(
        "CROSSROADS_DELIVERIES",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description=(
            "JetStream stream of push deliveries (subjects STREAM.<subscription id>, one durable "
            "consumer per push subscription); created when missing, and made again (its "
            "undelivered pushes sent again from the outbox) when lost."
        ),
    )
    nats_stream_replicas: int = Field(
        1,
        ge=1,
        le=5,
        description=(
            "Copies JetStream keeps of the push stream, on as many servers of a NATS cluster "
            "(3 survives the loss of one server; 1 on a single server). Applied to the stream at "
            "start, an existing one included; the hub does not start when the cluster cannot "
            "keep that many."
        ),
    )
    nats_ack_wait_seconds: float = Field(
        30.0,
        gt=0,
        le=3600,
        description=(
            "How long a delivery handed to a hub process may stay unsettled before JetStream "
            "hands it out again (a process that died mid-push)."
        ),
    )
    sequencer_takeover_seconds: float = Field(
        2.0,
        gt=0,
        le=60,
        description=(
            "How often a hub process that is not the audit sequencer checks whether it can take "
            "over (the sequencer died or stopped)."
        ),
    )
    session_secret: SecretStr | None = Field(
        None,
        description=(
            "Key that signs the citizen's, the operators' and the portal's session cookies "
            "(>= 32 characters). "
            "Generated into "
            "data_dir when unset."
        ),
    )
    citizen_oidc_issuer: str | None = Field(
        None,
        description=(
            "OpenID Connect issuer citizens sign in with (its /.well-known/openid-configuration "
            "is read). Unset: citizen sign-in is off, except in demo mode, where the development "
            "identity provider at ISSUER/dev-idp is used."
        ),
    )
    citizen_oidc_client_id: str = Field(
        "crossroads-citizen",
        min_length=1,
        description="The hub's client_id at the citizens' identity provider.",
    )
    citizen_oidc_client_secret: SecretStr | None = Field(
        None,
        description=(
            "The hub's client secret at the identity provider (client_secret_post); unset: a "
            "public client with PKCE only."
        ),
    )
    citizen_identifier_claim: str = Field(
        "sub",
        min_length=1,
        description=(
            "ID token claim holding the citizen's national identifier (a leading country code, as "
            "eIDAS nodes send, is removed)."
        ),
    )
    citizen_session_seconds: int = Field(
        900,
        ge=60,
        le=86400,
        description="A citizen's session ends after this many seconds without a request.",
    )
    portal_oidc_issuer: str | None = Field(
        None,
        description=(
            "OpenID Connect issuer that people acting for an enterprise or an institution (an "
            "employer's representative, a payroll office's clerk, an institution's staff member) "
            "sign in to the portal with. Unset: their sign-in is off, except in demo mode (the "
            "development identity provider)."
        ),
    )
    portal_oidc_client_id: str = Field(
        "crossroads-portal",
        min_length=1,
        description="The hub's client_id at the professionals' identity provider.",
    )
    portal_oidc_client_secret: SecretStr | None = Field(
        None,
        description=(
            "The hub's client secret at the professionals' identity provider "
            "(client_secret_post); unset: a public client with PKCE only."
        ),
    )
    portal_enterprise_claim: str = Field(
        "enterprise_number",
        min_length=1,
        description=(
            "ID token claim holding the enterprise number a person acts for (an employer, or a "
            "payroll office that declares for employers under mandates)."
        ),
    )
    portal_institution_claim: str = Field(
        "institution",
        min_length=1,
        description="ID token claim holding the enterprise number of a staff member's institution.",
    )
    portal_role_claim: str = Field(
        "role",
        min_length=1,
        description=(
            "ID token claim holding the person's role: employer or payroll_office with the "
            "enterprise claim; viewer or manager with the institution claim."
        ),
    )
    portal_session_seconds: int = Field(
        1800,
        ge=60,
        le=86400,
        description=(
            "The session of a person acting for an enterprise or an institution ends after this "
            "many seconds without a request."
        ),
    )
    session_lifetime_seconds: int = Field(
        28800,
        ge=60,
        le=604800,
        description=(
            "Every browser session (citizen, portal, operator) ends this many seconds after its "
            "sign-in, however active: signing in again is needed."
        ),
    )
    own_access_institution: str | None = Field(
        None,
        description=(
            "Enterprise number of the member the citizen's personal page asks the authentic "
            "sources as, under its OWN_ACCESS authorizations (capacity SELF; docs/portal.md). "
            "Unset: the personal page shows no data from the sources (the demo sets it)."
        ),
    )
    declarations_source: str | None = Field(
        None,
        description=(
            "Enterprise number of the institution the declarations service publishes its "
            "mutations as and answers dimona.periods, wages.quarterly and "
            "social-risk.declarations for (the NSSO). Unset: declarations are still taken and "
            "stored, and their mutations wait until it is set."
        ),
    )
    dimona_batch_max_bytes: int = Field(
        33_554_432,
        ge=1024,
        description=(
            "Largest DIMONA batch file accepted at POST /v1/declarations/batches/dimona, in bytes "
            "(32 MiB: about 65,000 forms in the official XML)."
        ),
    )
    dmfa_batch_max_bytes: int = Field(
        134_217_728,
        ge=1024,
        description=(
            "Largest DmfA batch file accepted at POST /v1/declarations/batches/dmfa, in bytes "
            "(128 MiB: a DmfA of 100,000 worker lines in the official XML is about 103 MB)."
        ),
    )
    declaration_batch_quota_files: int = Field(
        10,
        ge=1,
        le=10_000,
        description=(
            "Batch files one institution may have waiting to be processed; one more is refused "
            "with quota_exceeded (429) until some are done."
        ),
    )
    declaration_batch_quota_bytes: int = Field(
        268_435_456,
        ge=1024,
        description=(
            "Bytes of batch files one institution may have waiting to be processed (256 MiB: two "
            "of the largest DmfA files); a file that would pass it is refused with quota_exceeded "
            "(429)."
        ),
    )
    declaration_batch_max_attempts: int = Field(
        3,
        ge=1,
        le=100,
        description=(
            "Times the batch worker may start on one file whose processing stopped the worker "
            "(killed, out of memory) before the file ends with result B and the error "
            "batch_failed."
        ),
    )
    dimona_late_tolerance_days: int = Field(
        0,
        ge=0,
        le=365,
        description=(
            "A DIMONA IN sent more than this many days after the start of work is accepted with "
            "the glossary's warning 90373-460 (late declaration)."
        ),
    )
    dmfa_rates: Path | None = Field(
        None,
        description=(
            "JSON rate table the DmfA contributions are recomputed with (format: "
            "docs/declarations.md). Unset: the demo table shipped with the hub."
        ),
    )
    warehouse_secret: SecretStr | None = Field(
        None,
        description=(
            "Key of the statistics warehouse's pseudonyms (>= 16 characters), separate from the "
            "subject hash secret. Generated into data_dir when unset."
        ),
    )
    warehouse_path: Path | None = Field(
        None,
        description="The statistics warehouse's DuckDB file. Unset: data_dir/warehouse.duckdb.",
    )
    statistics_export_dir: Path | None = Field(
        None,
        description=(
            "Folder of the warehouse's Parquet files (warehouse/, rewritten after each "
            "extraction) and of the published open data (published/, served at "
            "/statistics/open-data/). Unset: data_dir/statistics."
        ),
    )
    statistics_purpose: str = Field(
        "statistics",
        description="The purpose recorded in the audit log for each extraction into the warehouse.",
    )
    statistics_legal_basis: str = Field(
        "statistical mission of the crossroads bank (to be set by the operator)",
        description=(
            "The legal basis recorded in the audit log for each extraction and publication."
        ),
    )
    statistics_threshold: int = Field(
        5, ge=2, le=1000, description="Fewest distinct persons a released statistics cell holds."
    )
    statistics_budget_epsilon: float = Field(
        2.0,
        gt=0,
        le=100,
        description="Privacy budget (epsilon) per analyst institution and project.",
    )
    statistics_max_query_epsilon: float = Field(
        0.5, gt=0, le=10, description="Largest epsilon one differentially private query may spend."
    )
    statistics_contributions: int = Field(
        10,
        ge=1,
        le=10_000,
        description="Units of a mart kept per person under differential privacy (its sensitivity).",
    )
    statistics_tables: Path | None = Field(
        None,
        description=(
            "JSON file of the published statistics tables (docs/statistics.md). Unset: the "
            "tables shipped with the hub."
        ),
    )
    statistics_extract_seconds: float = Field(
        0,
        ge=0,
        le=30 * 86400,
        description=(
            "How often the leading hub process extracts into the statistics warehouse and then "
            "publishes the open-data tables; 0: never on its own (the operator runs `crossroads "
            "statistics extract`)."
        ),
    )
    declaration_interval_seconds: float = Field(
        0.2,
        gt=0,
        le=60,
        description=(
            "How often the leading hub process looks for batch files to process and declared "
            "mutations to publish when it found none."
        ),
    )
    provider_ca_file: Path | None = Field(
        None,
        description=(
            "PEM bundle of the CAs trusted for providers' certificates (https), instead of "
            "the system's. Unset: the system's trust store."
        ),
    )
    provider_client_cert_file: Path | None = Field(
        None,
        description=(
            "PEM client certificate (chain) the hub shows to providers that ask for one "
            "(mutual TLS); its key in the same file or in provider_client_key_file."
        ),
    )
    provider_client_key_file: Path | None = Field(
        None,
        description=(
            "PEM private key of provider_client_cert_file, when not in that file "
            "(unencrypted: give it to the hub as a credential file)."
        ),
    )
    webhook_ca_file: Path | None = Field(
        None,
        description=(
            "PEM bundle of the CAs trusted for members' webhooks, instead of the system's. "
            "Unset: the system's trust store."
        ),
    )
    webhook_client_cert_file: Path | None = Field(
        None, description=("PEM client certificate the hub shows to webhooks that ask for one.")
    )
    webhook_client_key_file: Path | None = Field(
        None, description=("PEM private key of webhook_client_cert_file, when not in that file.")
    )
    witness_ca_file: Path | None = Field(
        None,
        description=(
            "PEM bundle of the CAs trusted for the witnesses' certificates (witness_urls), "
            "instead of the system's."
        ),
    )
    witness_client_cert_file: Path | None = Field(
        None, description=("PEM client certificate the hub shows to witnesses that ask for one.")
    )
    witness_client_key_file: Path | None = Field(
        None, description=("PEM private key of witness_client_cert_file, when not in that file.")
    )
    nats_ca_file: Path | None = Field(
        None,
        description=(
            "PEM bundle of the CAs trusted for the NATS server's certificate (a tls:// URL, "
            "or a server that requires TLS)."
        ),
    )
    nats_client_cert_file: Path | None = Field(
        None,
        description=(
            "PEM client certificate the hub shows to a NATS server that verifies clients "
            "(mutual TLS)."
        ),
    )
    nats_client_key_file: Path | None = Field(
        None, description=("PEM private key of nats_client_cert_file, when not in that file.")
    )
    nats_credentials_file: Path | None = Field(
        None,
        description=(
            "NATS credentials file (user JWT and NKey seed, as `nsc` writes it) for a server "
            "with decentralised authentication."
        ),
    )
    nats_token: SecretStr | None = Field(
        None,
        description=(
            "NATS authentication token, for a server configured with `authorization { token }`."
        ),
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Lowest level of the JSON logs."
    )
    access_log: bool = Field(
        True,
        description=(
            "Log every HTTP request at info (logger crossroads.access): method, route, status, "
            "duration, request id and the calling application; never the query, a token or a "
            "person's identifier."
        ),
    )
    tracing: bool = Field(
        False,
        description=(
            "Send OpenTelemetry traces (exchanges and their calls to providers, push deliveries, "
            "declaration batches) with the OTLP/HTTP exporter, which the standard OTEL_* "
            "variables configure (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME, "
            "OTEL_TRACES_SAMPLER…)."
        ),
    )
    rights_engine: str | None = Field(
        None,
        description=(
            "The rights engine's application, INSTITUTION:APPLICATION (docs/rights.md): it reads "
            "a person's facts through the hub's services under its own authorizations and "
            "publishes right.granted / right.ended. Unset: no automatic granting, no personal "
            "simulations, no non-take-up scan (anonymous simulations still answer)."
        ),
    )
    rights_purpose: str = Field(
        "AUTOMATIC_RIGHTS",
        description="The purpose the rights engine's authorizations name (and its exchanges use).",
    )
    rights_simulations_at_once: int = Field(
        2,
        ge=1,
        le=64,
        description=(
            "Anonymous simulations of rights (POST /v1/rights/simulations, /portal/rights) one "
            "hub process runs at the same time, each in a thread; one more is refused "
            "429 simulations_busy with Retry-After."
        ),
    )
    rights_poll_seconds: float = Field(
        1.0,
        gt=0,
        le=3600,
        description="How often the rights engine reads its mailbox of mutations to re-evaluate.",
    )
    demo: bool = Field(
        False,
        description=(
            "Demo mode: set by `crossroads demo` itself, which serves a development identity "
            "provider that signs anyone in as any citizen. `crossroads serve` (and the ASGI "
            "module) refuse to start with it."
        ),
    )

    def __init__(self, **values) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise config_sources.naming_variables(exc, type(self)) from None
        except SettingsError as exc:
            raise config_sources.naming_the_variable(exc) from None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # No .env file and no secrets folder: CROSSROADS_X_FILE names each secret's file instead.
        return init_settings, env_settings, config_sources.SecretFiles(settings_cls, os.environ)

    @classmethod
    def unknown_variables(cls) -> list[str]:
        """Sentences about the `CROSSROADS_*` variables that name no setting (misspelt ones)."""
        return config_sources.unknown_variables(os.environ, cls)

    def outbound_tls(self, peer: Literal["provider", "webhook", "witness", "nats"]) -> OutboundTls:
        names = tuple(f"{peer}_{part}_file" for part in ("ca", "client_cert", "client_key"))
        variables = tuple(config_sources.variable(name) for name in names)
        files = (getattr(self, name) for name in names)
        return OutboundTls(*files, names=variables)  # type: ignore[arg-type]

    @model_validator(mode="after")
    def _tls_files_usable(self) -> Settings:
        for peer in TLS_PEERS:
            self.outbound_tls(peer).context()  # raises ValueError naming the variable
        return self

    @field_validator("issuer")
    @classmethod
    def _issuer_is_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("issuer must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("session_secret")
    @classmethod
    def _session_secret_long(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("session_secret must be at least 32 characters")
        return value

    @model_validator(mode="after")
    def _dev_idp_only_in_demo(self) -> Settings:
        for name in ("citizen_oidc_issuer", "operator_oidc_issuer", "portal_oidc_issuer"):
            issuer = getattr(self, name)
            if not self.demo and issuer and issuer.rstrip("/").endswith("/dev-idp"):
                raise ValueError(
                    f"{name} names a development identity provider, which exists only in demo mode"
                )
        return self

    def archive_dir(self) -> Path:
        return self.audit_archive_dir or self.data_dir / "audit-archive"

    def operator_issuer(self) -> str | None:
        """The identity provider operators sign in with, or None when their sign-in is off."""
        if self.operator_oidc_issuer:
            return self.operator_oidc_issuer.rstrip("/")
        return f"{self.issuer}/dev-idp" if self.demo else None

    def portal_issuer(self) -> str | None:
        """The identity provider people acting for an enterprise or institution sign in with."""
        if self.portal_oidc_issuer:
            return self.portal_oidc_issuer.rstrip("/")
        return f"{self.issuer}/dev-idp" if self.demo else None

    def citizen_issuer(self) -> str | None:
        """The identity provider citizens sign in with, or None when citizen sign-in is off."""
        if self.citizen_oidc_issuer:
            return self.citizen_oidc_issuer.rstrip("/")
        return f"{self.issuer}/dev-idp" if self.demo else None

    @field_validator("store_url")
    @classmethod
    def _store_url_known(cls, value: str) -> str:
        if not value.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError("store_url must start with sqlite:/// or postgresql://")
        return value


def refuse_demo_mode(settings: Settings) -> None:
    """Stop a hub served from the environment in demo mode: the development identity provider
    would let anyone sign in as any citizen, and must never be served without saying so. Only
    `crossroads demo` runs a hub in demo mode, with settings it makes itself."""
    if settings.demo:
        raise SystemExit(
            "CROSSROADS_DEMO=true serves a development identity provider that signs anyone in as "
            "any citizen; only `crossroads demo` runs a hub in demo mode. Unset CROSSROADS_DEMO to "
            "serve."
        )
