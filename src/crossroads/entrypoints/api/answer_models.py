"""The shapes of the hub's own answers (operations, keys, directory, mutations, declarations,
the operator's registry, audit, citizen, statistics), for the OpenAPI document only (`answers`).

Where an answer is a domain record as it is (`dataclasses.asdict`), the record's own dataclass
is the model: pydantic describes a dataclass as well as a model, and the document then cannot
drift from the record.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from .openapi_models import Out


class Status(Out):
    status: str


class Readiness(Out):
    status: Literal["ready", "degraded"]
    degraded: list[str] | dict[str, Any] | None = None


class KeySet(Out):
    keys: list[dict[str, Any]]


class ServerMetadata(Out):
    issuer: str
    token_endpoint: str
    jwks_uri: str
    grant_types_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]
    token_endpoint_auth_signing_alg_values_supported: list[str]


class DirectoryChanged(Out):
    status: Literal["applied"]
    synchronised: int | None = None


class ImportReport(Out):
    lines: int
    applied: int
    rejected: int
    errors: list[dict[str, Any]]


class Holder(Out):
    institution: str
    capacity: str
    phase: str
    start: str
    end: str | None = None


class DirectoryAnswer(Out):
    holders: list[Holder]
    holds: bool | None = None


class MutationTypeOut(Out):
    code: str
    version: str
    name: str
    publisher: str
    fields: list[str]
    schema_: dict[str, Any] = Field(alias="schema")
    description: str
    state_path: str | None
    name_translations: dict[str, str]
    description_translations: dict[str, str]
    event_type: str


class PublishedOut(Out):
    id: str
    status: Literal["accepted", "duplicate"]
    recipients: int | None


class BatchResult(Out):
    index: int | None = None
    id: str | None
    status: Literal["accepted", "duplicate", "refused"]
    recipients: int | None = None
    error: dict[str, Any] | None = None


class BatchResults(Out):
    results: list[BatchResult]


class MailboxMessage(Out):
    seq: int
    event: dict[str, Any]


class Mailbox(Out):
    messages: list[MailboxMessage]
    next_after: int


class Acknowledged(Out):
    acknowledged: int


class DeadLetter(Out):
    seq: int
    subscription: str
    publisher: str
    mutation_id: str
    attempts: int
    last_error: str | None
    dead_at_ms: int | None


class Replayed(Out):
    replayed: int


class Dropped(Out):
    dropped: int


class DeclarationOut(Out):
    declarationId: int
    kind: str
    form: str
    result: str
    employer: str
    receivedAt: int
    anomalies: list[dict[str, Any]]


class ReadableDeclaration(DeclarationOut):
    sentBy: str


class DeclarationPage(Out):
    declarations: list[ReadableDeclaration]
    next_before: int | None


class BatchOut(Out):
    batchId: int
    kind: str
    result: str
    sha256: str
    receivedAt: int
    doneAt: int | None


class Acknowledgement(Out):
    batchId: int
    result: str


class EmployerOut(Out):
    company_id: str
    noss: str | None
    name: str
    active: bool


class Employers(Out):
    employers: list[EmployerOut]
    next_after: str | None


class MandateOut(Out):
    office: str
    employer: str
    valid_from: str
    valid_to: str | None


class Mandates(Out):
    mandates: list[MandateOut]
    next_after: str | None


class OperatorOut(Out):
    id: str
    kind: str
    roles: list[str]
    active: bool
    jwks: dict[str, Any] | None = None


class PersonSessionsOut(Out):
    sessions: dict[str, int]  # per audience asked for: signed in (GET), or ended (DELETE)
    total: int


class OperatorSession(Out):
    operator: str
    roles: list[str]
    csrf_token: str


class ProposalOut(Out):
    id: str
    kind: str
    action: str
    key: str
    body: dict[str, Any]
    proposed_by: str
    proposed_at_ms: int
    state: str
    decided_by: str | None
    decided_at_ms: int | None
    reason: str | None
    url: str


class ApplicationOut(Out):
    institution: str
    code: str
    name: str
    jwks: dict[str, Any]
    active: bool
    client_id: str


class TreeHead(Out):
    tree_size: int
    root_hash: str
    timestamp: int
    signature: str
    cosignatures: list[dict[str, Any]] = Field(default_factory=list)


class InclusionProof(Out):
    leaf_index: int
    tree_size: int
    leaf_hash: str
    inclusion_path: list[str]


class ConsistencyProof(Out):
    first: int
    second: int
    consistency_path: list[str]


class AuditEntry(Out):
    leaf_index: int
    entry: str
    record: dict[str, Any]


class Consultations(Out):
    tree_head: TreeHead | None
    consultations: list[dict[str, Any]]
    next_before: int | None


class PersonalDataUsage(Out):
    """GovStack Digital Registries' `PersonalDataUsage` (its spelling kept: `refrences`)."""

    id: str
    readerId: str | None = None
    readerInstitutionId: str | None = None
    readerInstitutionName: str | None = None
    readerApplicationName: str | None = None
    searchDateTime: str
    refrences: list[dict[str, Any]]


class DataReportOut(Out):
    id: int
    service: str
    subject: str
    message: str
    received_at_ms: int
    closed_at_ms: int | None
    answer: str | None


class DataReports(Out):
    reports: list[DataReportOut]
    next_after: int | None


class StatisticsAnswer(Out):
    project: str


class Budget(Out):
    project: str


class WarehouseState(Out):
    positions: dict[str, Any]
    published: list[dict[str, Any]]


class Extracted(Out):
    records: int
    positions: dict[str, Any]
    total: int


class PublishedTables(Out):
    tables: list[dict[str, Any]]


class CompetenceOut(Out):
    right: str
    capacity: str | None = Field(
        description="The institution holding the person in this capacity in the directory "
        "confirms (null when a fixed institution does)."
    )
    institution: str | None = Field(description="The one institution that confirms, or null.")
    legal_basis: str
