"""The access log: a line per request with its route, status, duration, request id and calling
application, and nothing from the URL as sent, nor a token; off when the setting says so."""

from __future__ import annotations

import logging

import pytest

from ..conftest import start_demo_hub

pytestmark = pytest.mark.anyio
PERSON = "85073003328"


def access_lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "crossroads.access"]


async def test_each_request_is_a_line_naming_its_route_and_caller_but_no_person(demo, caplog):
    caplog.set_level(logging.INFO, logger="crossroads.access")
    subject = demo.held_by("welfare")[0]
    token = await demo.token(demo.welfare)
    answer = await demo.http.post(
        "/v1/exchange/health.affiliation",
        headers={"Authorization": f"Bearer {token}"},
        json={"subject": subject, "purpose": "SOCIAL_INTEGRATION"},
    )
    assert answer.status_code == 200
    lost = await demo.http.get(f"/v1/persons/{PERSON}?subject={PERSON}")
    assert lost.status_code == 404
    refused = await demo.http.get("/admin/capacities/HEALTH", headers={"Authorization": "Bearer x"})
    assert refused.status_code == 401

    exchange, missing, admin = access_lines(caplog)[-3:]
    assert (exchange.method, exchange.route, exchange.status) == (
        "POST",
        "/v1/exchange/{service}",
        200,
    )
    assert exchange.request_id == answer.headers["x-request-id"]
    assert exchange.client_id == demo.welfare and exchange.duration_ms > 0
    assert (missing.route, missing.status, missing.client_id) == ("/v1/persons/…", 404, None)
    assert (admin.route, admin.status) == ("/admin/capacities/{code}", 401)
    assert admin.request_id == refused.json()["request_id"]
    written = " ".join(f"{r.getMessage()} {r.__dict__}" for r in access_lines(caplog))
    assert PERSON not in written and subject not in written and token not in written


async def test_the_access_log_is_off_when_the_setting_says_so(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="crossroads.access")
    demo = await start_demo_hub(tmp_path, persons=20, access_log=False)
    try:
        assert (await demo.http.get("/health")).status_code == 200
    finally:
        await demo.http.aclose()
        await demo.hub.close()
    assert access_lines(caplog) == []
