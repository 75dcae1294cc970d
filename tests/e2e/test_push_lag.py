"""A push delivery that waits, never tried, past CROSSROADS_PUSH_STALL_SECONDS makes /ready say
push delivery is degraded, and /metrics shows its age; one whose webhook fails and waits out its
back-off does not (that is the subscriber's trouble, not the hub's)."""

from __future__ import annotations

import re
import time

import pytest

from crossroads.services.clock import FixedClock

from ..conftest import start_demo_hub
from .test_mutations_api import move, publish, subscribe, with_test_type

pytestmark = pytest.mark.anyio


def oldest_untried(text: str) -> float:
    [value] = re.findall(r"^crossroads_push_oldest_untried_seconds (\S+)$", text, re.MULTILINE)
    return float(value)


async def test_a_push_never_tried_past_the_stall_is_reported_and_a_failing_webhook_is_not(
    tmp_path,
):
    clock = FixedClock(time.time())
    demo = await start_demo_hub(tmp_path, persons=60, clock=clock, push_stall_seconds=300)
    try:
        hub = await with_test_type(demo)
        push = hub.hub.push  # the hub's own dispatcher, not running here: the test turns it
        await push.deliver_due()  # what the seed published is tried (delivered, or backing off)
        assert (await hub.http.get("/ready")).json() == {"status": "ready"}
        assert oldest_untried((await hub.http.get("/metrics")).text) == 0.0

        subscribed = await subscribe(hub, mode="push", webhook_url="http://hooks.test:8443/e")
        assert subscribed.status_code == 201, subscribed.text
        published = await publish(hub, move("lag-1", hub.held_by("welfare")[0]))
        assert published.status_code in (200, 201, 202), published.text
        clock.at += 299  # not yet: and what /ready read is kept a second
        assert (await hub.http.get("/ready")).json() == {"status": "ready"}
        clock.at += 2
        ready = await hub.http.get("/ready")
        assert ready.status_code == 200  # exchanges, publications and mailboxes still work
        assert ready.json()["status"] == "degraded"
        [said] = ready.json()["degraded"]
        assert (
            "1 push subscription(s)" in said
            and "never tried, for more than 300 s (the oldest 301 s)" in said
        )
        assert oldest_untried((await hub.http.get("/metrics")).text) == 301.0

        # Tried once: its webhook (outside this test's routes) fails, and it waits its back-off.
        await push.deliver_due()
        clock.at += 1
        assert (await hub.http.get("/ready")).json() == {"status": "ready"}
        assert oldest_untried((await hub.http.get("/metrics")).text) == 0.0
    finally:
        await demo.http.aclose()
        await demo.hub.close()
