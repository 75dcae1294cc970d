"""The forms of the operators', employers' and mandates' pages: register an operator or a service
account with its roles, remove one (`manage`, as PUT/DELETE /admin/operators/… ask); register or
update an employer in the employers' register, give a payroll office a mandate (`edit`, as
PUT /admin/employers/… and PUT /admin/mandates ask)."""

from __future__ import annotations

from ...domain.operators import Permission
from ...templates.i18n import N_
from .operator_form_model import Field, Form

REGISTER_FORMS: dict[str, tuple[Form, ...]] = {
    "operators": (
        Form(
            "add-operator",
            N_("Add or update an operator"),
            "/operator/operators",
            (
                Field(
                    "operator_id",
                    N_("Operator"),
                    required=True,
                    hint=N_("person:SUBJECT (as the identity provider names them) or service:NAME"),
                ),
                Field(
                    "roles",
                    N_("Roles"),
                    required=True,
                    hint=N_(
                        "Separated by commas, among: read-only, auditor, registry-editor, "
                        "approver, admin."
                    ),
                ),
                Field("active", N_("Active"), "checkbox", default="on"),
                Field(
                    "jwks",
                    N_("A service account's public keys (JWK Set, JSON)"),
                    "textarea",
                    hint=N_("Empty for a person."),
                ),
            ),
            N_("Save the operator"),
            Permission.MANAGE,
        ),
        Form(
            "remove-operator",
            N_("Remove an operator"),
            "/operator/operators/remove",
            (Field("operator_id", N_("Operator"), "select", True, "operators"),),
            N_("Remove the operator"),
            Permission.MANAGE,
        ),
    ),
    "employers": (
        Form(
            "add-employer",
            N_("Add or update an employer"),
            "/operator/employers",
            (
                Field("company_id", N_("Enterprise number"), required=True),
                Field("name", N_("Name"), required=True),
                Field("noss", N_("NOSS registration number"), hint=N_("Up to 9 digits.")),
                Field("active", N_("Active"), "checkbox", default="on"),
            ),
            N_("Save the employer"),
        ),
    ),
    "mandates": (
        Form(
            "add-mandate",
            N_("Give a mandate"),
            "/operator/mandates",
            (
                Field("office", N_("Payroll office"), "select", True, "institutions"),
                Field("employer", N_("Employer (enterprise number)"), required=True),
                Field("valid_from", N_("Valid from"), "date", True),
                Field("valid_to", N_("Valid until"), "date"),
            ),
            N_("Give the mandate"),
        ),
    ),
}
