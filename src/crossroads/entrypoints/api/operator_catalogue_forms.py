"""The forms of the services', capacities' and routed providers' pages: register or update a
service version, remove one; register a capacity, remove one; register an institution as a
provider of a routed service, stop routing to it. Each asks `edit`, as the admin API's routes
for the same changes (PUT/DELETE /admin/services/…, /admin/capacities/…)."""

from __future__ import annotations

from ...templates.i18n import N_
from .operator_form_model import (
    DESCRIPTION_IN,
    INSTITUTION,
    LIST_HINT,
    NAME_IN,
    Field,
    Form,
    wording_fields,
)

_SERVICE = N_("Service")

CATALOGUE_FORMS: dict[str, tuple[Form, ...]] = {
    "services": (
        Form(
            "add-service",
            N_("Add or update a service"),
            "/operator/services",
            (
                Field("code", N_("Code"), required=True, hint=N_("e.g. person.identity")),
                Field("version", N_("Version"), required=True, default="1"),
                Field("name", N_("Name"), required=True),
                *wording_fields("name", NAME_IN),
                Field("description", N_("Description"), "textarea"),
                *wording_fields("description", DESCRIPTION_IN, "textarea"),
                Field(
                    "provider",
                    N_("Authentic source"),
                    "select",
                    options="institutions",
                    hint=N_("Either an authentic source or a capacity that routes it."),
                ),
                Field("routed_capacity", N_("Routed by capacity"), "select", options="capacities"),
                Field("path", N_("Path at the provider"), hint=N_("e.g. /persons")),
                Field("response_fields", N_("Fields"), required=True, hint=LIST_HINT),
                Field(
                    "request_schema",
                    N_("Request schema (JSON Schema)"),
                    "textarea",
                    True,
                    default='{"type": "object"}',
                ),
                Field(
                    "response_schema",
                    N_("Response schema (JSON Schema)"),
                    "textarea",
                    True,
                    default='{"type": "object"}',
                ),
            ),
            N_("Save the service"),
        ),
        Form(
            "remove-service",
            N_("Remove a service version"),
            "/operator/services/remove",
            (Field("service", _SERVICE, "select", True, "service-versions"),),
            N_("Remove the service version"),
        ),
    ),
    "capacities": (
        Form(
            "add-capacity",
            N_("Add or rename a capacity"),
            "/operator/capacities",
            (
                Field("code", N_("Code"), required=True, hint=N_("e.g. SOCIAL_ASSISTANCE")),
                Field("name", N_("Name"), required=True),
                *wording_fields("name", NAME_IN),
            ),
            N_("Save the capacity"),
        ),
        Form(
            "remove-capacity",
            N_("Remove a capacity"),
            "/operator/capacities/remove",
            (Field("code", N_("Capacity"), "select", True, "capacities"),),
            N_("Remove the capacity"),
        ),
    ),
    "routed-providers": (
        Form(
            "add-routed-provider",
            N_("Route a service to a provider"),
            "/operator/routed-providers",
            (
                Field("service", _SERVICE, "select", True, "routed-services"),
                Field("institution", INSTITUTION, "select", True, "institutions"),
            ),
            N_("Register the provider"),
        ),
        Form(
            "remove-routed-provider",
            N_("Stop routing a service to a provider"),
            "/operator/routed-providers/remove",
            (Field("provider", N_("Provider"), "select", True, "routed-providers"),),
            N_("Stop routing"),
        ),
    ),
}
