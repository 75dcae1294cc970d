"""The bell of a pull mailbox (services/arrivals.py): a ring wakes the reader of that mailbox
alone, is kept until its next wait, and a wait ends on `stop` or after its time."""

from __future__ import annotations

import asyncio

import pytest

from crossroads.services.arrivals import Arrivals

pytestmark = pytest.mark.anyio
ENGINE = ("0200001430", "engine-app")


async def test_a_ring_wakes_the_waiting_reader_of_that_mailbox():
    arrivals, stop = Arrivals(), asyncio.Event()
    waiting = asyncio.create_task(arrivals.wait(*ENGINE, stop, 3600))
    await asyncio.sleep(0)  # the reader waits
    arrivals.ring([("0200000439", "rights-app")])  # another mailbox: not this reader's
    await asyncio.sleep(0)
    assert not waiting.done()
    arrivals.ring([ENGINE])
    assert await asyncio.wait_for(waiting, 60) is True


async def test_a_ring_while_the_reader_reads_is_kept_for_its_next_wait_once():
    arrivals, stop = Arrivals(), asyncio.Event()
    assert await arrivals.wait(*ENGINE, stop, 0) is False  # the reader's bell exists from here
    arrivals.ring([ENGINE])  # a message committed while the reader reads the mailbox
    assert await arrivals.wait(*ENGINE, stop, 3600) is True  # at once, not in an hour
    assert await arrivals.wait(*ENGINE, stop, 0) is False  # rung once, woken once


async def test_a_wait_ends_when_the_loop_stops():
    arrivals, stop = Arrivals(), asyncio.Event()
    waiting = asyncio.create_task(arrivals.wait(*ENGINE, stop, 3600))
    await asyncio.sleep(0)
    stop.set()
    assert await asyncio.wait_for(waiting, 60) is False
