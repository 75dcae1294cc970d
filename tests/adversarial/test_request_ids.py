"""Every audit record written while serving a request names that request (issue 15, section 5).

A caller holds the request id the hub answered with (`X-Request-Id`, `request_id` in an error);
an auditor looks it up in the log. An outside review found refusals and changes whose records
named no request: the directory's (API and portal), the statistics queries', the declarations'
mandate refusals, the registry's. The id is now stamped by the audit log itself on every record
written while a request is served (services/request_scope.py), so no use case can forget it.
Run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import orjson
import pytest

from crossroads.domain.audit import AuditRecord

from .test_shared_pipelines import (
    JSON_TYPE,
    WELFARE,
    audit_records,
    auth,
    dimona_in,
    hub_on,
    newcomer,
    start_day,
)

pytestmark = pytest.mark.anyio


async def records_of(demo, request_id: str) -> list[dict]:
    return [r for r in await audit_records(demo) if r.get("request_id") == request_id]


async def test_each_refusal_and_change_is_audited_under_the_request_id_answered(
    tmp_path, store_url
):
    async with hub_on(tmp_path, store_url) as demo:
        welfare = await auth(demo, WELFARE, **JSON_TYPE)
        subject = newcomer()
        answers = {
            "no_integration_right": await demo.http.post(
                "/v1/directory/changes",
                content=orjson.dumps(
                    {"subject": subject, "capacity": "HEALTH_INSURED", "start": "2026-12-01"}
                ),
                headers=welfare,
            ),
            "no_mandate": await demo.http.post(
                "/v1/declarations/dimona",
                content=orjson.dumps(dimona_in(newcomer(), start_day(demo))),
                headers=welfare,
            ),
            "no_authorization": await demo.http.post(
                "/v1/statistics/queries",
                content=orjson.dumps(
                    {
                        "project": "LABOUR_MARKET_2026",
                        "mart": "employment",
                        "dimensions": ["quarter"],
                        "aggregate": "count",
                        "protection": "suppression",
                    }
                ),
                headers=welfare,
            ),
        }
        for code, answer in answers.items():
            assert answer.json().get("code") == code, (code, answer.text)
            request_id = answer.headers["x-request-id"]
            assert answer.json()["request_id"] == request_id
            assert [r["outcome"] for r in await records_of(demo, request_id)] == [code], code

        applied = await demo.http.post(
            "/v1/directory/changes",
            content=orjson.dumps(
                {"subject": newcomer(), "capacity": "SOCIAL_ASSISTANCE", "start": "2026-12-01"}
            ),
            headers=welfare,
        )
        assert applied.status_code < 300, applied.text
        changed = await records_of(demo, applied.headers["x-request-id"])
        assert changed and all(r["outcome"] == "ok" for r in changed), changed


async def test_work_a_process_does_on_its_own_names_no_request(tmp_path, store_url):
    async with hub_on(tmp_path, store_url) as demo:
        before = len(await audit_records(demo))
        assert await demo.hub.declaration_batches.process_waiting() == 0
        await demo.hub.store.audit.append(
            AuditRecord(kind="registry", at_ms=0, outcome="ok", action="test.outside")
        )
        [record] = (await audit_records(demo))[before:]
        assert "request_id" not in record
