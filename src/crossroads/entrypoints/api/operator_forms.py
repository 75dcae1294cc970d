"""The operator's forms: what each registry page lets an operator change, field by field, and how
a posted form's text becomes the values the admin services take.

A form is shown only to an operator whose roles grant its permission (the permission the admin
API's route for the same change asks). Its fields carry labels and, once posted, the error beside
the field it concerns, in the reader's language: the form's own checks (a field left empty, a day
not written as a day, JSON that does not parse) say so in a translated sentence; a service's
refusal adds its precise English sentence under a translated one chosen by its code.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from ...domain import unique_keys
from ...domain.errors import Refusal
from ...domain.registry import DESCRIPTION_LENGTH, LEGAL_BASIS_LENGTH, NAME_LENGTH
from ...templates.i18n import N_
from .operator_catalogue_forms import CATALOGUE_FORMS
from .operator_form_model import (
    DESCRIPTION_IN,
    LEGAL_BASIS_IN,
    NAME_IN,
    WORDING_LANGUAGES,
    Field,
    Form,
    wording_fields,
)
from .operator_form_model import INSTITUTION as _INSTITUTION
from .operator_form_model import LEGAL_BASIS as _LEGAL_BASIS
from .operator_form_model import LIST_HINT as _LIST_HINT
from .operator_register_forms import REGISTER_FORMS

_SERVICE_OR_CHANGE = N_("Service or change")
# The forms of each registry page (operator_tables.TABLES), in the order the page shows them.
FORMS: dict[str, tuple[Form, ...]] = {
    "members": (
        Form(
            "add-member",
            N_("Add or update a member"),
            "/operator/members",
            (
                Field("enterprise_number", N_("Enterprise number"), required=True),
                Field("name", N_("Name"), required=True),
                Field("member_class", N_("Member class"), required=True, default="GOV"),
                Field("base_url", N_("Provider address")),
                Field("webhook_bases", N_("Webhook addresses"), "textarea", hint=N_("One a line.")),
                Field(
                    "peer",
                    N_("Member of peer hub"),
                    hint=N_("The pinned peer's instance; empty for a member of this hub's own."),
                ),
            ),
            N_("Save the member"),
        ),
        Form(
            "remove-member",
            N_("Remove a member"),
            "/operator/members/remove",
            (Field("enterprise_number", _INSTITUTION, "select", True, "institutions"),),
            N_("Remove the member"),
        ),
    ),
    "applications": (
        Form(
            "add-application",
            N_("Add or update an application"),
            "/operator/applications",
            (
                Field("institution", _INSTITUTION, "select", True, "institutions"),
                Field("code", N_("Application"), required=True),
                Field("name", N_("Name"), required=True),
                Field(
                    "jwks",
                    N_("Public keys (JWK Set, JSON)"),
                    "textarea",
                    True,
                    default='{"keys": []}',
                ),
            ),
            N_("Save the application"),
        ),
        Form(
            "register-key",
            N_("Register a key"),
            "/operator/applications/keys",
            (
                Field("application", N_("Application"), "select", True, "applications"),
                Field("jwk", N_("Public key (JWK, JSON)"), "textarea", True),
            ),
            N_("Register the key"),
        ),
        Form(
            "application-active",
            N_("Disable or enable an application"),
            "/operator/applications/active",
            (
                Field("application", N_("Application"), "select", True, "applications"),
                Field("active", N_("May ask for tokens"), "checkbox"),
            ),
            N_("Save"),
        ),
    ),
    "authorizations": (
        Form(
            "add-authorization",
            N_("Add or change an authorization"),
            "/operator/authorizations",
            (
                Field("reference", N_("Authorization"), required=True, hint=N_("e.g. ISC/24/123")),
                Field("consumer", _INSTITUTION, "select", True, "institutions"),
                Field("service", _SERVICE_OR_CHANGE, "select", True, "services"),
                Field("purpose", N_("Purpose"), required=True),
                Field("legal_basis", _LEGAL_BASIS, "textarea", True),
                *wording_fields("legal_basis", LEGAL_BASIS_IN, "textarea"),
                Field(
                    "allowed_fields", N_("Fields it may receive"), required=True, hint=_LIST_HINT
                ),
                Field(
                    "required_capacities",
                    N_("Held in the reference directory as"),
                    hint=_LIST_HINT,
                ),
                Field("valid_from", N_("Valid from"), "date", True),
                Field("valid_to", N_("Valid until"), "date"),
                Field("accepts_provisional", N_("A provisional integration is enough"), "checkbox"),
            ),
            N_("Save the authorization"),
        ),
        Form(
            "end-authorization",
            N_("End an authorization"),
            "/operator/authorizations/end",
            (
                Field("reference", N_("Authorization"), "select", True, "authorizations"),
                Field("valid_to", N_("Last valid day"), "date", True),
            ),
            N_("End the authorization"),
        ),
    ),
    "integration-rights": (
        Form(
            "add-integration-right",
            N_("Grant an integration right"),
            "/operator/integration-rights",
            (
                Field("institution", _INSTITUTION, "select", True, "institutions"),
                Field("capacity", N_("Capacity"), "select", True, "capacities"),
                Field("legal_basis", _LEGAL_BASIS, "textarea"),
                *wording_fields("legal_basis", LEGAL_BASIS_IN, "textarea"),
            ),
            N_("Grant the right"),
        ),
        Form(
            "withdraw-integration-right",
            N_("Withdraw an integration right"),
            "/operator/integration-rights/withdraw",
            (Field("right", N_("Integration right"), "select", True, "rights"),),
            N_("Withdraw the right"),
        ),
    ),
    "mutation-types": (
        Form(
            "add-mutation-type",
            N_("Add or update a mutation type"),
            "/operator/mutation-types",
            (
                Field("code", N_("Code"), required=True),
                Field("version", N_("Version"), required=True),
                Field("name", N_("Name"), required=True),
                *wording_fields("name", NAME_IN),
                Field("publisher", N_("Publisher"), "select", True, "institutions"),
                Field("fields", N_("Fields"), required=True, hint=_LIST_HINT),
                Field(
                    "schema",
                    N_("Payload schema (JSON Schema)"),
                    "textarea",
                    True,
                    default='{"type": "object"}',
                ),
                Field("description", N_("Description"), "textarea"),
                *wording_fields("description", DESCRIPTION_IN, "textarea"),
            ),
            N_("Save the mutation type"),
        ),
    ),
    "dead-letters": (
        Form(
            "replay",
            N_("Replay dead letters"),
            "/operator/dead-letters/replay",
            (Field("seqs", N_("Sequence numbers"), required=True, hint=_LIST_HINT),),
            N_("Queue them again"),
        ),
        Form(
            "drop",
            N_("Drop dead letters"),
            "/operator/dead-letters/drop",
            (Field("seqs", N_("Sequence numbers"), required=True, hint=_LIST_HINT),),
            N_("Drop them for good"),
        ),
    ),
    **CATALOGUE_FORMS,
    **REGISTER_FORMS,
}
FORM_BY_ID = {form.id: form for forms in FORMS.values() for form in forms}

# What the form says, in the reader's language, beside a value it could not read.
EMPTY = N_("Fill in this field.")
NOT_A_DAY = N_("Write a day, e.g. 2026-12-31.")
NOT_JSON = N_("This is not valid JSON.")
NOT_NUMBERS = N_("Write sequence numbers separated by commas, e.g. 12, 15.")
TOO_LONG = N_("This is too long.")
# ... and above a service's own (English) sentence, by its refusal's code.
REFUSAL_SENTENCES = {
    "malformed_request": N_("This value is not accepted."),
    "invalid_identifier": N_("This is not a valid number."),
    "not_found": N_("Nothing of this name is registered."),
    "unknown_service": N_("No service or mutation type of this name is registered."),
    "conflict": N_("This conflicts with what the registry holds."),
    "no_integration_right": N_("The institution has no integration right for this."),
    "invalid_period": N_("These days do not make a valid period."),
    "payload_too_large": N_("This is too long."),
    "unknown_peer": N_("No peer hub of this name is pinned here."),
}
MAX_TEXT = 2000


class FormError(Exception):
    """A value the form could not read, named by its field, with a translatable sentence."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def text(form: dict[str, str], name: str, required: bool = True) -> str:
    value = form.get(name, "").strip()
    if required and not value:
        raise FormError(name, EMPTY)
    if len(value) > MAX_TEXT:
        raise FormError(name, TOO_LONG)
    return value


def wording(form: dict[str, str], name: str, max_length: int | None = None) -> dict[str, str]:
    """`name`'s text in the languages whose field (wording_fields) is filled in; one longer than
    the registry takes (`max_length`, else the usual length of a `name`) is refused beside its
    own field."""
    longest = _WORDING_LENGTHS[name] if max_length is None else max_length
    texts = {}
    for language in WORDING_LANGUAGES:
        field = f"{name}_{language}"
        value = text(form, field, False)
        if len(value) > longest:
            raise FormError(field, TOO_LONG)
        if value:
            texts[language] = value
    return texts


_WORDING_LENGTHS = {
    "name": NAME_LENGTH,
    "description": DESCRIPTION_LENGTH,
    "legal_basis": LEGAL_BASIS_LENGTH,
}


def optional(form: dict[str, str], name: str) -> str | None:
    return text(form, name, required=False) or None


def day(form: dict[str, str], name: str) -> date:
    value = text(form, name)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise FormError(name, NOT_A_DAY) from None


def optional_day(form: dict[str, str], name: str) -> date | None:
    return day(form, name) if form.get(name, "").strip() else None


def listed(form: dict[str, str], name: str, required: bool = True) -> tuple[str, ...]:
    values = tuple(v.strip() for v in text(form, name, required).split(",") if v.strip())
    if required and not values:
        raise FormError(name, EMPTY)
    return values


def lines(form: dict[str, str], name: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text(form, name, False).splitlines() if v.strip())


def json_object(form: dict[str, str], name: str) -> dict[str, Any]:
    try:
        # A key written twice is refused as not JSON (RFC 7493 I-JSON; domain/unique_keys.py).
        value = unique_keys.loads(text(form, name, required=True))
    except ValueError:
        raise FormError(name, NOT_JSON) from None
    if not isinstance(value, dict):
        raise FormError(name, NOT_JSON)
    return value


def numbers(form: dict[str, str], name: str) -> list[int]:
    try:
        values = [int(v) for v in listed(form, name)]
    except ValueError:
        raise FormError(name, NOT_NUMBERS) from None
    if any(v < 0 or v > 2**53 for v in values) or len(values) > 1000:
        raise FormError(name, NOT_NUMBERS)
    return values


def checked(form: dict[str, str], name: str) -> bool:
    return form.get(name) == "on"


def field_errors(form: Form, error: FormError | Refusal) -> dict[str, dict[str, str]]:
    """The error by the form's field it concerns (`""` when none of them: the form's top), as
    {"message": translatable sentence, "detail": the service's English one or ""}."""
    if isinstance(error, FormError):
        return {error.field: {"message": error.message, "detail": ""}}
    names = {f.name for f in form.fields}
    raw = (error.field or "").split(".")[0].split("[")[0]
    field = raw if raw in names else ALIASES.get((form.id, raw), "")
    sentence = REFUSAL_SENTENCES.get(error.code, N_("The hub refused this change."))
    return {field: {"message": sentence, "detail": error.message}}


# A service's name for a value the form asks under another name.
ALIASES = {
    ("register-key", "jwks"): "jwk",
    ("remove-member", "institution"): "enterprise_number",
    ("add-operator", "id"): "operator_id",
    ("add-routed-provider", "provider"): "institution",
}
