"""Stable refusal codes.

Every refusal the hub gives has a code from this catalogue, a human sentence, and where it applies
the offending field. The catalogue is the single source for the HTTP status (mapped in the API
layer), for `docs/errors.md` and for the OpenAPI document; a test fails when a code raised anywhere
in the code base is missing from either.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorCode:
    code: str
    status: int
    summary: str


_CODES = [
    ErrorCode(
        "unauthenticated",
        401,
        "No valid access token: missing, malformed, expired, signed by another key, or of an "
        "application disabled since it was issued.",
    ),
    ErrorCode(
        "sign_in_expired",
        401,
        "A browser came back from the identity provider with an answer to no sign-in under way "
        "in it: the sign-in expired, or was already used (its address reloaded). Sign in again.",
    ),
    ErrorCode(
        "forbidden",
        403,
        "The credential is valid but does not allow this operation (e.g. the admin API without "
        "the operator credential).",
    ),
    ErrorCode(
        "role_required",
        403,
        "The operator is signed in but none of their roles allows this (e.g. an auditor changing "
        "the registry, a registry editor approving a proposal).",
    ),
    ErrorCode(
        "own_proposal",
        403,
        "Four eyes: the operator who proposed a change cannot approve it, nor a change that gives "
        "the approver themselves roles or keys; another operator must.",
    ),
    ErrorCode(
        "approver_not_person",
        403,
        "Four eyes: a proposal is approved by a person signed in at /operator/login, not by a "
        "service account (whoever holds its key) or the static admin token.",
    ),
    ErrorCode(
        "related_operator",
        403,
        "Four eyes: the approver's own operator (its creation, a role or a key) was proposed by "
        "the proposal's author, or the other way round; an operator not set up by the other must "
        "approve it.",
    ),
    ErrorCode(
        "proposal_expired",
        409,
        "Four eyes: the proposal waited longer than the hub's proposal lifetime "
        "(CROSSROADS_PROPOSAL_LIFETIME_SECONDS) and can no longer be approved or rejected; "
        "propose the change again.",
    ),
    ErrorCode(
        "csrf_failed",
        403,
        "A change sent with an operator's session cookie lacks the session's X-CSRF-Token header "
        "(read it from GET /operator/session).",
    ),
    ErrorCode(
        "invalid_request",
        400,
        "OAuth token request: a required parameter is missing or malformed (RFC 6749 §5.2).",
    ),
    ErrorCode(
        "invalid_client",
        401,
        "OAuth token request: the client assertion is invalid, expired, replayed, or names an "
        "unknown application (RFC 7523).",
    ),
    ErrorCode(
        "unsupported_grant_type", 400, "OAuth token request: only client_credentials is supported."
    ),
    ErrorCode(
        "no_authorization",
        403,
        "No authorization allows this consumer to use this service for this purpose.",
    ),
    ErrorCode(
        "authorization_expired",
        403,
        "An authorization exists but is not valid on the date of the request.",
    ),
    ErrorCode(
        "subject_not_in_directory",
        403,
        "The consumer institution does not hold the subject in the reference directory.",
    ),
    ErrorCode(
        "capacity_mismatch",
        403,
        "The consumer holds the subject, but in none of the capacities the authorization requires;"
        " or the request names a capacity (`capacity`, `X-Crossroads-Capacity`) the"
        " authorization does not.",
    ),
    ErrorCode(
        "period_outside_integration",
        403,
        "The period asked about is not covered by the consumer's integration of the subject.",
    ),
    ErrorCode(
        "provisional_not_accepted",
        403,
        "The consumer holds the subject only provisionally (phase 1), and the authorization "
        "requires a definitive integration.",
    ),
    ErrorCode(
        "period_outside_authorization",
        403,
        "The period asked about is not within the validity of the authorization (a decision "
        "covers the days it is valid for).",
    ),
    ErrorCode(
        "no_integration_right",
        403,
        "The registry does not let this institution integrate persons in this capacity (its "
        "integration rights).",
    ),
    ErrorCode(
        "webhook_not_allowed",
        422,
        "The webhook address is not under an address the operator registered for the "
        "institution, or it resolves to a loopback, link-local or private address.",
    ),
    ErrorCode(
        "invalid_identifier",
        422,
        "An identifier fails its check digits or format for the deployment's scheme.",
    ),
    ErrorCode("invalid_period", 422, "A date is impossible or a period ends before it starts."),
    ErrorCode(
        "unknown_service",
        404,
        "No electronic service with that code (and version) is registered, or the provider an"
        " X-Road address names does not offer it.",
    ),
    ErrorCode(
        "unknown_right",
        404,
        "The rights engine's rules decide no right with that code (GET /v1/rights/rules lists"
        " them).",
    ),
    ErrorCode(
        "unknown_mutation_type", 404, "No mutation type with that code (and version) is registered."
    ),
    ErrorCode(
        "malformed_request",
        400,
        "The body is not valid JSON, has wrong types, unknown fields or misses a required field.",
    ),
    ErrorCode(
        "unsupported_media_type",
        415,
        "The body is not sent as application/json (or the format the endpoint names).",
    ),
    ErrorCode(
        "payload_too_large",
        413,
        "The body exceeds the configured limit (1 MiB by default; a batch file, its kind's: "
        "CROSSROADS_DIMONA_BATCH_MAX_BYTES, CROSSROADS_DMFA_BATCH_MAX_BYTES).",
    ),
    ErrorCode(
        "headers_too_large",
        431,
        "The request line and headers exceed the configured limit (32 KiB by default); the "
        "connection is closed.",
    ),
    ErrorCode(
        "request_timeout",
        408,
        "The request's headers or body did not arrive within the configured time; the "
        "connection is closed.",
    ),
    ErrorCode("not_found", 404, "The named resource does not exist."),
    ErrorCode(
        "privacy_budget_exhausted",
        403,
        "The differentially private query would take the analyst's privacy budget for the "
        "project past its limit; nothing was answered or spent.",
    ),
    ErrorCode(
        "pruned",
        410,
        "The audit entry is older than the retention period: it was exported to an archive "
        "segment and removed from the live store.",
    ),
    ErrorCode("method_not_allowed", 405, "The HTTP method is not supported on this path."),
    ErrorCode(
        "conflict",
        409,
        "The resource already exists or the change contradicts the registry (a GovStack event"
        " type still subscribed to, an accepted event asked to be deleted).",
    ),
    ErrorCode(
        "no_provider",
        404,
        "The service is routed per person and no institution holds the subject in the provider "
        "capacity for the period.",
    ),
    ErrorCode(
        "provider_unavailable",
        502,
        "The provider could not be reached (connection refused or reset).",
    ),
    ErrorCode(
        "provider_timeout", 504, "The provider did not answer within the configured timeout."
    ),
    ErrorCode("provider_error", 502, "The provider answered with an error status."),
    ErrorCode(
        "invalid_provider_response",
        502,
        "The provider's answer is not JSON or does not match the service's response schema.",
    ),
    ErrorCode("unknown_peer", 404, "No peer hub with that instance identifier is pinned here."),
    ErrorCode(
        "peer_untrusted",
        401,
        "The hub-to-hub request or the peer's federation document is not signed by a key this "
        "hub believes for that peer (pinned, or endorsed by the peer's key history), names "
        "another instance or address, is too old, or was already received.",
    ),
    ErrorCode(
        "peer_document_expired",
        403,
        "The peer's federation document is past its expiry and no current one could be fetched.",
    ),
    ErrorCode(
        "not_offered",
        403,
        "The member or the service is not in the federation offer of its hub: the peer's "
        "document does not list the asking member, or this hub does not offer the service.",
    ),
    ErrorCode(
        "not_peer_member",
        403,
        "The member a peer hub names is not registered in this hub as a member of that very "
        "peer (it is this hub's own, another peer's, or not registered), even if the peer's "
        "document lists it.",
    ),
    ErrorCode(
        "no_identifier_link",
        404,
        "No identifier link with the peer hub is recorded for this person: the exchange or "
        "mutation cannot name the person in the other hub's scheme.",
    ),
    ErrorCode(
        "not_identifier_authority",
        403,
        "Only the institution the operator designated as identifier authority for that peer hub "
        "records or withdraws its identifier links.",
    ),
    ErrorCode(
        "invalid_tree_head",
        422,
        "Witness: the tree head or its consistency proof does not verify (signature, form, or "
        "proof).",
    ),
    ErrorCode(
        "stale_tree_head",
        409,
        "Witness: the consistency proof does not start at the tree head this witness last "
        "countersigned; the answer names that size, to prove from.",
    ),
    ErrorCode(
        "split_view",
        409,
        "Witness: the tree head contradicts one this witness already countersigned; the log "
        "showed two histories. The witness keeps the evidence.",
    ),
    ErrorCode(
        "invalid_restore_declaration",
        422,
        "Witness: the restore declaration does not name the head this witness last "
        "countersigned, is not the last entry of the signed head, or does not verify.",
    ),
    ErrorCode(
        "malformed_xml",
        400,
        "The XML is not well formed, or its root is not the form the endpoint takes (Dimona, "
        "DmfAOriginal).",
    ),
    ErrorCode(
        "forbidden_xml",
        400,
        "The XML carries a document type declaration, an entity or an external reference; "
        "declarations are refused with any of them.",
    ),
    ErrorCode(
        "no_mandate",
        403,
        "The declarant is neither the employer nor a payroll office with a mandate for that "
        "employer on that date.",
    ),
    ErrorCode(
        "quota_exceeded",
        429,
        "The institution already has as many batch files, or bytes of them, waiting to be "
        "processed as it may (CROSSROADS_DECLARATION_BATCH_QUOTA_FILES, _BYTES); send this one "
        "once some are done.",
    ),
    ErrorCode(
        "batch_failed",
        500,
        "In a batch file's acknowledgement: processing the file failed in a way the hub did "
        "not foresee, or stopped its batch worker CROSSROADS_DECLARATION_BATCH_MAX_ATTEMPTS "
        "times. The batch ends with result B (forms decided before are kept); it is logged "
        "with the batch id, and the same file may be sent again.",
    ),
    ErrorCode(
        "simulations_busy",
        429,
        "As many anonymous simulations of rights as the hub runs at once "
        "(CROSSROADS_RIGHTS_SIMULATIONS_AT_ONCE) are running: try again in a moment. The answer "
        "carries `Retry-After`.",
    ),
    ErrorCode(
        "member_busy",
        429,
        "The calling institution already has as many requests in flight in this hub process as "
        "one member may (CROSSROADS_MEMBER_CONCURRENCY): send this one when one of them has been "
        "answered. Refused before anything is read, so not audited (counted in "
        "`crossroads_member_busy_total`). The answer carries `Retry-After`.",
    ),
    ErrorCode("not_ready", 503, "The hub cannot reach its store; try again later."),
    ErrorCode(
        "warehouse_unavailable",
        503,
        "Another process is extracting into the statistics warehouse (one writes at a time; "
        "every hub process keeps answering analysts): try again when it is done.",
    ),
    ErrorCode(
        "internal_error",
        500,
        "An unexpected fault in the hub. It is logged with the request id; nothing the caller "
        "sent causes it.",
    ),
]

CATALOGUE: dict[str, ErrorCode] = {c.code: c for c in _CODES}


class Refusal(Exception):
    """A refusal with a stable code. Raised by the domain and services, rendered by entrypoints.

    Every refused request is in the audit log exactly once. A use case that writes its refusal's
    record itself, with what only it knows (the service, the subject's hash, the authorization),
    says so with `mark_audited()` as it raises; the HTTP layer records every other refusal (a bad
    token, a malformed body, a wrong method) and never one marked audited.
    """

    audited: bool = False  # True once the use case that refused wrote the audit record

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        if code not in CATALOGUE:
            raise ValueError(f"undocumented error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def __reduce__(self) -> tuple[type[Refusal], tuple[object, ...]]:
        # Exception pickles its args (the message alone); a refusal crosses process boundaries
        # (a bulk load's parsing processes) whole.
        return type(self), (self.code, self.message, self.field)

    def mark_audited(self) -> Refusal:
        """Say that this refusal's audit record is written (by the use case raising it)."""
        self.audited = True
        return self

    @property
    def status(self) -> int:
        return CATALOGUE[self.code].status

    def to_dict(self) -> dict[str, str]:
        body = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        return body


_FRAMEWORK_STATUSES = {
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def framework_refusal(status: int, detail: object = None) -> Refusal:
    """The refusal for an HTTP error a web framework answers by itself (no route, wrong method…),
    so that the hub and the apps built on its provider kit answer it with a documented code."""
    code = _FRAMEWORK_STATUSES.get(
        status, "malformed_request" if status < 500 else "internal_error"
    )
    summary = CATALOGUE[code].summary
    return Refusal(code, str(detail) if detail and detail != summary else summary)
