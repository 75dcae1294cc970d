"""A push subscription whose next delivery stays next, never tried, past
CROSSROADS_PUSH_STALL_SECONDS makes /ready say push delivery is degraded, and /metrics shows how
long; one whose webhook fails and waits out its back-off does not (the subscriber's trouble, not
the hub's). A store that cannot say is reported, never a 500, never a hung probe."""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from crossroads.services.clock import FixedClock

from ..conftest import start_demo_hub
from .test_mutations_api import move, publish, subscribe, with_test_type

pytestmark = pytest.mark.anyio


def stalled(text: str) -> float:
    [value] = re.findall(r"^crossroads_push_stalled_seconds (\S+)$", text, re.MULTILINE)
    return float(value)


@pytest.fixture
async def hub(tmp_path):
    clock = FixedClock(time.time())
    demo = await start_demo_hub(
        tmp_path, persons=60, clock=clock, push_stall_seconds=300, ready_timeout=0.5
    )
    demo.clock = clock
    yield await with_test_type(demo)
    await demo.http.aclose()
    await demo.hub.close()


async def test_a_push_never_tried_past_the_stall_is_reported_and_a_failing_webhook_is_not(hub):
    clock, push = hub.clock, hub.hub.push  # the hub's own dispatcher, turned by the test here
    await push.deliver_due()  # what the seed published is tried (delivered, or backing off)
    assert (await hub.http.get("/ready")).json() == {"status": "ready"}
    assert stalled((await hub.http.get("/metrics")).text) == 0.0

    subscribed = await subscribe(hub, mode="push", webhook_url="http://hooks.test:8443/e")
    assert subscribed.status_code == 201, subscribed.text
    published = await publish(hub, move("lag-1", hub.held_by("welfare")[0]))
    assert published.status_code in (200, 201, 202), published.text
    clock.at += 1
    assert (await hub.http.get("/ready")).json() == {"status": "ready"}  # first seen next now
    clock.at += 299
    assert (await hub.http.get("/ready")).json() == {"status": "ready"}
    clock.at += 0.5  # what was read is kept for a second: the same answer, not read again
    assert (await hub.http.get("/metrics")).text.count("crossroads_push_stalled_seconds 299.0")
    clock.at += 1.5
    ready = await hub.http.get("/ready")
    assert ready.status_code == 200  # exchanges, publications and mailboxes still work
    assert ready.json()["status"] == "degraded"
    [said] = ready.json()["degraded"]
    assert "1 push subscription(s) have had the same next delivery, never tried" in said
    assert "for more than 300 s (the longest 301 s)" in said
    assert stalled((await hub.http.get("/metrics")).text) == 301.0

    # Tried once: its webhook (outside this test's routes) fails, and it waits its back-off.
    await push.deliver_due()
    clock.at += 1
    assert (await hub.http.get("/ready")).json() == {"status": "ready"}
    assert stalled((await hub.http.get("/metrics")).text) == 0.0


async def test_a_store_that_fails_or_hangs_on_the_heads_is_said_not_a_500(hub, monkeypatch):
    mutations = hub.hub.store.mutations

    async def failing():
        raise OSError("disk I/O error")

    async def hanging():
        await asyncio.sleep(30)

    monkeypatch.setattr(mutations, "push_heads", failing)
    ready = await hub.http.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["degraded"] == [
        "push delivery: whether it moves could not be read (OSError: disk I/O error)."
    ]
    assert (await hub.http.get("/metrics")).status_code == 200
    monkeypatch.setattr(mutations, "push_heads", hanging)
    hub.clock.at += 2
    started = time.monotonic()
    ready = await hub.http.get("/ready")
    assert time.monotonic() - started < 5  # the probe is answered within ready_timeout
    assert ready.json()["degraded"] == [
        "push delivery: whether it moves could not be read (the store did not answer within 0.5 s)."
    ]
