"""An outage of PostgreSQL, through a proxy the test cuts: every wait is bounded, every request
caught in it is answered 503 `not_ready` (never 500, never success), and its exchange is in the
audit log once the store is back."""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager

import psycopg
import pytest

from crossroads.domain.audit import AuditRecord

from ..conftest import POSTGRES_DSN, drop_postgres_database, fresh_postgres_database, start_demo_hub
from ..e2e.portal_browsing import browser, sign_in
from ..tcp_proxy import TcpProxy

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def proxied_hub(tmp_path, persons: int, **settings):
    """A demo hub whose every PostgreSQL connection goes through a proxy, with short bounds;
    yields it, the proxy and the database's URL."""
    url = fresh_postgres_database()
    host, port = url.split("@", 1)[1].split("/", 1)[0].split(":")
    proxy = await TcpProxy(host, int(port)).start()
    demo = await start_demo_hub(
        tmp_path,
        proxy.url(url),
        persons=persons,
        store_timeout=1.0,
        store_statement_timeout=1.0,
        ready_timeout=1.0,
        **settings,
    )
    try:
        yield demo, proxy, url
    finally:
        proxy.mend()
        await demo.http.aclose()
        await demo.hub.close()
        await proxy.close()
        drop_postgres_database(url)


@pytest.fixture
async def proxied(tmp_path):
    async with proxied_hub(tmp_path, 60) as hub:
        yield hub


async def exchange(demo, token: str, subject: str):
    return await demo.http.post(
        "/v1/exchange/person.identity",
        json={"subject": subject, "purpose": "SOCIAL_INTEGRATION"},
        headers={"Authorization": f"Bearer {token}"},
    )


async def audited(demo, request_id: str) -> AuditRecord | None:
    for _, raw in await demo.hub.store.audit.read(0, 100_000):
        record = AuditRecord.from_canonical(raw)
        if record.request_id == request_id:
            return record
    return None


async def until_written(demo) -> None:
    deferred = demo.hub.deferred_audit
    for _ in range(200):
        if deferred.waiting == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{deferred.waiting} deferred audit records were never written")


async def back_within(seconds: float, get) -> float:
    """Calls `get()` until it answers 200; how long that took. Fails after `seconds`."""
    started = time.monotonic()
    while (answer := await get()).status_code != 200:
        waited = time.monotonic() - started
        assert waited < seconds, f"still {answer.status_code} after {waited:.1f} s: {answer.text}"
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def timed(call):
    started = time.monotonic()
    result = await call
    return result, time.monotonic() - started


@pytest.mark.parametrize("fault", ["cut", "silence"])
async def test_an_outage_answers_not_ready_in_time_and_audits_once_back(proxied, fault):
    demo, proxy, _ = proxied
    token = await demo.token(demo.welfare)
    subject = demo.held_by("welfare")[0]
    assert (await exchange(demo, token, subject)).status_code == 200

    getattr(proxy, fault)()
    ready, took = await timed(demo.http.get("/ready"))
    assert ready.status_code == 503 and ready.json()["code"] == "not_ready"
    assert ready.headers["Retry-After"].isdigit()
    assert took < 2.0, f"/ready took {took:.1f} s"

    answer, took = await timed(exchange(demo, token, subject))
    assert answer.status_code == 503, answer.text
    assert answer.json()["code"] == "not_ready" and "Retry-After" in answer.headers
    assert took < 4.0, f"the exchange took {took:.1f} s"  # within the bounds of 1 s, and a retry
    request_id = answer.json()["request_id"]

    proxy.mend()
    await until_written(demo)
    record = await audited(demo, request_id)
    assert record is not None, "the exchange answered not_ready is not in the log"
    # Refused at the door (the token's revocation mark is in the store) or by the exchange.
    assert record.outcome == "not_ready"
    assert record.service == "person.identity/1" or record.action == "POST /v1/exchange/{service}"
    assert (await demo.http.get("/ready")).status_code == 200
    assert (await exchange(demo, token, subject)).status_code == 200


async def test_terminated_connections_never_answer_500_nor_unaudited_success(proxied):
    demo, _, url = proxied
    token = await demo.token(demo.welfare)
    subjects = demo.held_by("welfare")[:6]
    assert (await exchange(demo, token, subjects[0])).status_code == 200
    database = url.rsplit("/", 1)[1]
    with psycopg.connect(POSTGRES_DSN, autocommit=True) as admin:
        killed = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        ).fetchone()[0]
    assert killed >= 1

    answers = await asyncio.gather(*(exchange(demo, token, s) for s in subjects))
    assert {a.status_code for a in answers} <= {200, 503}, [a.text for a in answers]
    await until_written(demo)
    for answer in answers:
        record = await audited(demo, answer.json()["request_id"])
        expected = "ok" if answer.status_code == 200 else "not_ready"
        assert record is not None and record.outcome == expected
    assert (await exchange(demo, token, subjects[0])).status_code == 200


@pytest.fixture
async def proxied_sign_in(tmp_path):
    """As `proxied`, with the development identity provider to sign in at."""
    async with proxied_hub(tmp_path, 20, demo=True) as (demo, proxy, _):
        yield demo, proxy


async def test_a_session_the_store_cannot_check_is_answered_not_ready(proxied_sign_in):
    """The session's record is read on every request: with the store out, 503, never a 500 nor
    a page served for a session that might have signed out."""
    demo, proxy = proxied_sign_in
    async with browser(demo) as client:
        await sign_in(client, "/operator/login", "operator")
        assert (await client.get("/operator/session")).status_code == 200
        proxy.cut()
        answer, took = await timed(client.get("/operator/session"))
        assert answer.status_code == 503, answer.text
        assert answer.json()["code"] == "not_ready"
        assert took < 4.0, f"the session's check took {took:.1f} s"
        proxy.mend()
        # The pool's next attempt to connect may be a second or two away.
        await back_within(5.0, lambda: client.get("/operator/session"))


async def test_after_a_long_outage_the_hub_is_back_within_seconds_of_the_store(proxied):
    """The pool's waits between attempts to connect again are bounded: they doubled, to minutes,
    and the hub stayed not ready long after the server was back (16 s down: 15 s more)."""
    demo, proxy, _ = proxied
    assert (await demo.http.get("/ready")).status_code == 200
    proxy.cut()
    down = time.monotonic()
    while time.monotonic() - down < 16:
        assert (await demo.http.get("/ready")).status_code == 503
        await asyncio.sleep(0.5)
    proxy.mend()
    await back_within(6.0, lambda: demo.http.get("/ready"))
