"""Every refused request is in the audit log exactly once, whichever layer refused it: the
exchange, the token endpoint, the declarations (a DIMONA without a mandate among them), the
directory, the admin API, the framework itself (a wrong method, a malformed body, a body over
the limit), and the hub's mounted source. An unknown path alone is not recorded (scanners' noise).

The demo hub here runs without its background tasks (no lifespan), so every record appended while
a request is answered is that request's.
"""

from __future__ import annotations

from datetime import date

import pytest

from crossroads.demo import country, employers
from crossroads.domain.audit import AuditRecord

pytestmark = pytest.mark.anyio
OPERATOR = {"Authorization": "Bearer operator-secret-for-tests"}
PAYROLL = f"{country.BY_KEY['payroll'].number}:payroll-app"
INTRUDER = f"{country.BY_KEY['unemployment'].number}:benefits-app"


async def last_seq(demo) -> int:
    count = await demo.hub.store.audit.count()
    return max(seq for seq, _ in await demo.hub.store.audit.read(max(0, count - 10), 1_000_000))


async def records_during(demo, send) -> tuple[object, list[AuditRecord]]:
    before = await last_seq(demo)
    response = await send()
    return response, [
        AuditRecord.from_canonical(raw)
        for _, raw in await demo.hub.store.audit.read(before + 1, 1000)
    ]


async def test_each_kind_of_refusal_is_audited_exactly_once(demo):
    welfare = {"Authorization": f"Bearer {await demo.token(demo.welfare)}"}
    payroll = {"Authorization": f"Bearer {await demo.token(PAYROLL)}"}
    intruder = {"Authorization": f"Bearer {await demo.token(INTRUDER)}"}
    held = set(demo.held_by("welfare", phase=None))
    stranger = next(s for s in demo.seeded["subjects"] if s not in held)
    worker = next(s for s in demo.seeded["subjects"] if not country.is_child(s))
    http = demo.http
    source = "/sources/declarations/services/dimona.periods/1"
    cases = {
        # the exchange's use case records its refusals itself
        "exchange": (
            lambda: http.post(
                "/v1/exchange/person.identity",
                headers=welfare,
                json={"subject": stranger, "purpose": "SOCIAL_INTEGRATION"},
            ),
            403,
            "subject_not_in_directory",
            "exchange",
        ),
        "holders": (
            lambda: http.post(
                "/v1/holders",
                headers=welfare,
                json={"subject": stranger, "purpose": "SOCIAL_INTEGRATION"},
            ),
            403,
            "subject_not_in_directory",
            "exchange",
        ),
        "exchange body": (
            lambda: http.post("/v1/exchange/person.identity", headers=welfare, json={"subject": 1}),
            400,
            "malformed_request",
            "request",
        ),
        # tokens: the token endpoint records its own; a bad bearer token is refused at the door
        "token": (
            lambda: http.post("/oauth/token", data={"grant_type": "password"}),
            400,
            "unsupported_grant_type",
            "auth",
        ),
        "bearer": (
            lambda: http.post(
                "/v1/exchange/person.identity",
                headers={"Authorization": "Bearer x.y.z"},
                json={"subject": stranger, "purpose": "SOCIAL_INTEGRATION"},
            ),
            401,
            "unauthenticated",
            "request",
        ),
        # declarations: no mandate is recorded by the use case, a malformed form at the door
        "no mandate": (
            lambda: http.post(
                "/v1/declarations/dimona",
                headers=welfare,
                json=employers.dimona_in(worker, employers.EMPLOYERS[0][0], date.today(), "OTH"),
            ),
            403,
            "no_mandate",
            "declaration",
        ),
        "declaration body": (
            lambda: http.post(
                "/v1/declarations/dimona",
                headers={**payroll, "Content-Type": "application/json"},
                content=b"[1]",
            ),
            400,
            "malformed_request",
            "request",
        ),
        "unknown declaration": (
            lambda: http.get("/v1/declarations/999999", headers=payroll),
            404,
            "not_found",
            "request",
        ),
        # the directory's use case records a refused change itself
        "directory": (
            lambda: http.post(
                "/v1/directory/changes",
                headers=intruder,
                json={"subject": stranger, "capacity": "HEALTH_INSURED", "start": "2024-01-01"},
            ),
            403,
            "no_integration_right",
            "directory",
        ),
        "directory query": (
            lambda: http.post("/v1/directory/query", headers=OPERATOR, json={"subject": "123"}),
            422,
            "invalid_identifier",
            "request",
        ),
        # the admin API
        "admin credential": (
            lambda: http.put("/admin/capacities/X", headers=welfare, json={"name": "x"}),
            403,
            "forbidden",
            "request",
        ),
        "admin use case": (
            lambda: http.put("/admin/institutions/123", headers=OPERATOR, json={"name": "x"}),
            422,
            "invalid_identifier",
            "request",
        ),
        # the framework: a wrong method, a malformed body, a body over the limit
        "method": (
            lambda: http.delete("/v1/holders", headers=welfare),
            405,
            "method_not_allowed",
            "request",
        ),
        "validation": (
            lambda: http.put("/admin/capacities/X", headers=OPERATOR, json={"nom": "x"}),
            400,
            "malformed_request",
            "request",
        ),
        "too large": (
            lambda: http.put("/admin/capacities/X", headers=OPERATOR, content=b"x" * (2 << 20)),
            413,
            "payload_too_large",
            "request",
        ),
        # the hub's mounted source
        "source": (lambda: http.post(source, json={}), 401, "unauthenticated", "request"),
    }
    for name, (send, status, code, kind) in cases.items():
        response, added = await records_during(demo, send)
        assert (response.status_code, response.json()["code"]) == (status, code), (
            name,
            response.text,
        )
        assert [(r.kind, r.outcome) for r in added] == [(kind, code)], name

    # An unknown path is not recorded at all, at the hub and in its mounted source.
    for path in ("/nothing-here", "/sources/declarations/nothing-here"):
        response, added = await records_during(demo, lambda: http.post(path, json={}))
        assert response.status_code == 404 and added == []
