"""A registry as one JSON document, loaded through the admin use cases (validated and audited)."""

from __future__ import annotations

from datetime import date

from ..domain.errors import Refusal
from ..domain.registry import (
    Application,
    Authorization,
    Capacity,
    Institution,
    IntegrationRight,
    RoutedProvider,
    Service,
)
from ..services.registry import RegistryAdmin


def _date(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


async def load_document(admin: RegistryAdmin, doc: dict) -> dict[str, int]:
    """Put, in dependency order: institutions, capacities, integration rights, services, routed
    providers, authorizations, applications."""
    known = {
        "institutions",
        "capacities",
        "integration_rights",
        "services",
        "routed_providers",
        "authorizations",
        "applications",
    }
    unknown = set(doc) - known
    if unknown:
        raise Refusal(
            "malformed_request",
            f"unknown section {sorted(unknown)[0]}; sections: {', '.join(sorted(known))}.",
        )
    counts = {}
    for item in doc.get("institutions", []):
        await admin.put_institution(
            Institution(**{**item, "webhook_bases": tuple(item.get("webhook_bases", ()))})
        )
    counts["institutions"] = len(doc.get("institutions", []))
    for item in doc.get("capacities", []):
        await admin.put_capacity(Capacity(**item))
    counts["capacities"] = len(doc.get("capacities", []))
    for item in doc.get("integration_rights", []):
        await admin.put_integration_right(IntegrationRight(**item))
    counts["integration_rights"] = len(doc.get("integration_rights", []))
    for item in doc.get("services", []):
        await admin.put_service(
            Service(**{**item, "response_fields": tuple(item["response_fields"])})
        )
    counts["services"] = len(doc.get("services", []))
    for item in doc.get("routed_providers", []):
        await admin.put_routed_provider(RoutedProvider(**item))
    counts["routed_providers"] = len(doc.get("routed_providers", []))
    for item in doc.get("authorizations", []):
        await admin.put_authorization(
            Authorization(
                **{
                    **item,
                    "required_capacities": tuple(item.get("required_capacities", ())),
                    "allowed_fields": tuple(item["allowed_fields"]),
                    "valid_from": _date(item["valid_from"]),
                    "valid_to": _date(item.get("valid_to")),
                }
            )
        )
    counts["authorizations"] = len(doc.get("authorizations", []))
    for item in doc.get("applications", []):
        await admin.put_application(Application(**item))
    counts["applications"] = len(doc.get("applications", []))
    return counts
