"""The operators' page and the employers' register with its mandates, as tables: the operators
and service accounts with their roles (read through the operators' admin service), and the
employers and mandates a page at a time (a country has hundreds of thousands of employers: read
through the declarations' query service, as GET /admin/employers and /admin/mandates page them,
`after` the last one shown).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ...bootstrap import Hub
from ...domain.errors import Refusal
from ...templates.i18n import N_
from .admin_employers import mandate_cursor, parse_mandate_cursor
from .operator_table_model import Column, Table

PAGE = 100  # rows a page of the employers' register or the mandates

REGISTER_TABLES: dict[str, Table] = {
    "operators": Table(
        N_("Operators"),
        N_(
            "Who may administer the hub: the persons the identity provider signs in and the "
            "service accounts, with their roles."
        ),
        (
            Column(N_("Operator"), "code"),
            Column(N_("Roles"), "codes"),
            Column(N_("Active"), "yesno"),
            Column(N_("Keys (kid)"), "codes"),
        ),
        N_("No operator is registered yet."),
    ),
    "employers": Table(
        N_("Employers"),
        N_("The employers' register: who may be declared for, by enterprise number."),
        (
            Column(N_("Enterprise number"), "code"),
            Column(N_("NOSS registration number"), "code"),
            Column(N_("Name")),
            Column(N_("Active"), "yesno"),
        ),
        N_("No employer is registered yet."),
    ),
    "mandates": Table(
        N_("Mandates"),
        N_("Which payroll office may declare for which employer, and for how long."),
        (
            Column(N_("Payroll office")),
            Column(N_("Employer"), "code"),
            Column(N_("Valid"), "validity"),
        ),
        N_("No mandate is registered yet."),
    ),
}

Rows = list[list[Any]]


async def _operators(hub: Hub, after: str) -> tuple[Rows, str | None]:
    return [
        [
            o.id,
            [r.value for r in o.roles],
            o.active,
            [str(k.get("kid", "?")) for k in (o.jwks or {}).get("keys", [])],
        ]
        for o in await hub.operators.list()
    ], None


async def _employers(hub: Hub, after: str) -> tuple[Rows, str | None]:
    if len(after) > 10:
        raise Refusal(
            "malformed_request", "after is an enterprise number (a page's last).", "after"
        )
    found = await hub.declaration_queries.employers(after, PAGE)
    rows = [[e.company_id, e.noss or "", e.name, e.active] for e in found]
    return rows, found[-1].company_id if len(found) == PAGE else None


async def _mandates(hub: Hub, after: str) -> tuple[Rows, str | None]:
    cursor = parse_mandate_cursor(after) if after else None
    found = await hub.declaration_queries.mandates(None, None, cursor, PAGE)
    names = {i.enterprise_number: i.name for i in await hub.registry_queries.institutions()}
    today = hub.clock.today()
    rows = [
        [
            names.get(m.office, m.office),
            m.employer,
            (
                m.valid_from,
                m.valid_to,
                m.valid_from <= today and (m.valid_to is None or today <= m.valid_to),
            ),
        ]
        for m in found
    ]
    return rows, mandate_cursor(found[-1]) if len(found) == PAGE else None


REGISTER_ROWS: dict[str, Callable[[Hub, str], Awaitable[tuple[Rows, str | None]]]] = {
    "operators": _operators,
    "employers": _employers,
    "mandates": _mandates,
}
