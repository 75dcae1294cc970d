"""Request and response bodies of the API, as pydantic models (they also make the OpenAPI
document)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# Integers the API takes (sequence numbers, tree sizes, leaf indexes) are stored as signed 64-bit
# (SQLite INTEGER, PostgreSQL bigint); a larger one is refused where it is read, with room left
# for the +1 that paging adds.
MAX_INTEGER = 2**62


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# A registry text in the portal's languages (domain/wording.py): {"nl": ..., "fr": ..., "de": ...},
# each held to the default text's length.
Language = Literal["en", "nl", "fr", "de"]
NameWording = dict[Language, Annotated[str, Field(min_length=1, max_length=200)]]
DescriptionWording = dict[Language, Annotated[str, Field(min_length=1, max_length=2000)]]
LegalBasisWording = dict[Language, Annotated[str, Field(min_length=1, max_length=1000)]]
IntegrationLegalBasisWording = dict[Language, Annotated[str, Field(min_length=1, max_length=500)]]
_IN_LANGUAGES = (
    "The same text in other languages of the portal (en, nl, fr, de), shown to readers of that"
    " language instead of the default text."
)


def wording(what: str) -> Any:
    return Field(default_factory=dict, description=f"{what}: {_IN_LANGUAGES}")


class Error(BaseModel):
    code: str = Field(description="Stable error code; see docs/errors.md.")
    message: str = Field(description="A human sentence.")
    field: str | None = Field(None, description="The offending field, where one is to blame.")
    request_id: str


class PeriodIn(Strict):
    start: dt.date
    end: dt.date | None = None


class ExchangeIn(Strict):
    subject: str = Field(
        description="The person's identifier (INSZ/NISS in Belgium), any usual spelling.",
        max_length=64,
    )
    purpose: str = Field(description="Purpose code the authorization names.", max_length=64)
    authorization: str | None = Field(
        None,
        description="Authorization reference, e.g. ISC/24/123; found automatically when omitted.",
        max_length=100,
    )
    version: str | None = Field(
        None, description="Service version; the highest when omitted.", max_length=64
    )
    capacity: str | None = Field(
        None,
        description=(
            "The capacity the consumer asks in: the directory must hold the subject in it, and"
            " the authorization must name it. Any capacity the authorization names when omitted."
        ),
        max_length=64,
    )
    date: dt.date | None = Field(
        None, description="Date of interest (default: today). Exclusive with period."
    )
    period: PeriodIn | None = Field(None, description="Period of interest. Exclusive with date.")
    parameters: dict[str, Any] = Field(
        default_factory=dict,
        description="Service-specific parameters, checked against the service's request schema.",
    )


class ProviderAnswerOut(BaseModel):
    provider: str
    data: Any = None
    error: dict | None = None


class ExchangeOut(BaseModel):
    request_id: str
    service: str
    version: str
    authorization: str
    legal_basis: str
    period: dict
    answers: list[ProviderAnswerOut]


class HoldersIn(Strict):
    subject: str = Field(max_length=64)
    purpose: str = Field(max_length=64)
    authorization: str | None = Field(None, max_length=100)
    date: dt.date | None = None
    period: PeriodIn | None = None


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int


class InstitutionIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    member_class: str = Field("GOV", pattern=r"^[A-Z]{2,10}$")
    base_url: str | None = Field(None, max_length=500)
    webhook_bases: list[str] = Field(
        default_factory=list,
        max_length=20,
        description=(
            "Address prefixes (http(s), no query) under which the institution's webhooks may be,"
            " besides base_url."
        ),
    )
    peer: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        description=(
            "The pinned peer hub (its instance) this institution is a member of; null: a member"
            " of this hub's own. A peer's requests are answered only for its members recorded"
            " here (docs/federation.md)."
        ),
    )


class IntegrationRightIn(Strict):
    legal_basis: str = Field(
        "",
        max_length=500,
        description="The law or decision that licenses the institution for this capacity.",
    )
    legal_basis_translations: IntegrationLegalBasisWording = wording("The legal basis")


class CompetenceIn(Strict):
    capacity: str | None = Field(
        None,
        max_length=64,
        description="The institution holding the person in this capacity in the reference "
        "directory confirms the right's decisions (e.g. HEALTH_INSURED: the person's fund).",
    )
    institution: str | None = Field(
        None,
        max_length=64,
        description="Or one fixed institution (its enterprise number) confirms them all.",
    )
    legal_basis: str = Field(
        "", max_length=500, description="The law that assigns the right to that institution."
    )


class ApplicationIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    jwks: dict = Field(description="Public keys (JWK Set): Ed25519 (OKP) or P-256 (EC).")
    active: bool = True


class OperatorIn(Strict):
    roles: list[str] = Field(
        max_length=5,
        description="Role names: read-only, auditor, registry-editor, approver, admin.",
    )
    active: bool = True
    jwks: dict | None = Field(
        None, description="A service account's public keys (JWK Set); a person has none."
    )


class RejectionIn(Strict):
    reason: str | None = Field(None, max_length=500, description="Why, for the audit record.")


class CapacityIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    name_translations: NameWording = wording("The name")


class ServiceIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    name_translations: NameWording = wording("The name")
    description_translations: DescriptionWording = wording("The description")
    provider: str | None = Field(
        None, description="Enterprise number of the fixed authentic source."
    )
    routed_capacity: str | None = Field(
        None, description="Route per person to the institutions holding them in this capacity."
    )
    path: str = Field("", max_length=200, pattern=r"^(/[A-Za-z0-9._~-]+)*$")
    request_schema: dict = Field(default_factory=lambda: {"type": "object"})
    response_schema: dict = Field(default_factory=lambda: {"type": "object"})
    response_fields: list[str] = Field(min_length=1)


class AuthorizationIn(Strict):
    consumer: str
    service: str = Field(max_length=64)
    purpose: str = Field(max_length=64)
    legal_basis: str = Field(min_length=1, max_length=1000)
    legal_basis_translations: LegalBasisWording = wording("The legal basis")
    required_capacities: list[str] = Field(
        default_factory=list,
        description=(
            "Capacities the subject must be integrated in: at least one, except for the built-in"
            " statistics.aggregates, which looks no person up and takes none."
        ),
    )
    allowed_fields: list[str] = Field(min_length=1)
    valid_from: dt.date
    valid_to: dt.date | None = None
    accepts_provisional: bool = Field(
        False, description="Whether a provisional (phase 1) integration of the subject is enough."
    )


class DirectoryChangeIn(Strict):
    op: Literal["integrate", "end", "remove"] = "integrate"
    subject: str = Field(max_length=64)
    institution: str | None = None
    capacity: str = Field(max_length=64)
    phase: Literal["provisional", "definitive"] = "definitive"
    start: dt.date | None = None
    end: dt.date | None = None
    sync: bool = Field(
        False,
        description=(
            "With op integrate: send the person's current state to the institution's"
            " subscriptions this integration entitles (initial synchronisation)."
        ),
    )


class DirectoryQueryIn(Strict):
    subject: str = Field(max_length=64)
    capacity: str | None = None
    date: dt.date | None = None
    institution: str | None = Field(
        None, description="With capacities and period: does this institution hold the person?"
    )
    capacities: list[str] | None = None
    period: PeriodIn | None = None


class MutationTypeIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    name_translations: NameWording = wording("The name")
    description_translations: DescriptionWording = wording("The description")
    publisher: str = Field(
        description="Enterprise number of the authentic source that publishes this type.",
        max_length=64,
    )
    fields: list[str] = Field(
        min_length=1,
        description="The fields the payload may hold; authorizations allow some of them.",
    )
    schema_: dict = Field(
        default_factory=lambda: {"type": "object"},
        alias="schema",
        description="JSON Schema (2020-12) of the payload.",
    )
    state_path: str | None = Field(
        None,
        max_length=200,
        pattern=r"^(/[A-Za-z0-9._~-]+)+$",
        description=(
            "Where the publisher answers a person's current state (initial synchronisation)."
        ),
    )


class MutationIn(Strict):
    id: str = Field(
        min_length=1,
        max_length=100,
        description="The publisher's id for this mutation: the same id again is accepted once.",
    )
    subject: str = Field(max_length=64, description="The person's identifier, any usual spelling.")
    effective_date: dt.date = Field(
        description=(
            "The day the change takes effect; recipients are those handling the person on that day."
        )
    )
    payload: dict[str, Any] = Field(
        default_factory=dict, description="Checked against the mutation type's schema."
    )
    version: str | None = Field(
        None, max_length=64, description="Mutation type version; the highest when omitted."
    )


class MutationBatchIn(Strict):
    mutations: list[dict[str, Any]] = Field(min_length=1, max_length=1000)


class SubscriptionIn(Strict):
    mutation_type: str = Field(max_length=64)
    purpose: str = Field(max_length=64, description="Purpose code the authorization names.")
    authorization: str | None = Field(
        None,
        max_length=100,
        description="Authorization reference; found automatically when omitted.",
    )
    mode: Literal["pull", "push"] = "pull"
    webhook_url: str | None = Field(
        None, max_length=2000, description="Where push deliveries go (mode push)."
    )


class AckIn(Strict):
    seqs: list[Annotated[int, Field(ge=1, le=MAX_INTEGER)]] = Field(
        min_length=1, max_length=1000, description="Sequence numbers of the messages received."
    )


class EmployerIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    noss: str | None = Field(None, pattern=r"^\d{1,9}$", description="NOSS registration number.")
    active: bool = True


class MandateIn(Strict):
    office: str = Field(
        max_length=64,
        description="Enterprise number of the payroll office (an institution with applications).",
    )
    employer: str = Field(
        max_length=64, description="Enterprise number of the employer it may declare for."
    )
    valid_from: dt.date
    valid_to: dt.date | None = None
