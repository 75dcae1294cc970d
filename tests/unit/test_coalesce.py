"""The coalescer: concurrent lookups share rounds, a round starts after its callers asked, and a
failure reaches every caller of its round."""

from __future__ import annotations

import asyncio

import pytest

from crossroads.adapters.sql.coalesce import Coalescer

pytestmark = pytest.mark.anyio


class Source:
    def __init__(self, values: dict, fail_first: bool = False) -> None:
        self.values = values
        self.rounds: list[list] = []
        self.release = asyncio.Event()
        self.release.set()
        self.fail_first = fail_first

    async def fetch(self, keys: list) -> dict:
        self.rounds.append(list(keys))
        await self.release.wait()
        if self.fail_first and len(self.rounds) == 1:
            raise ConnectionError("the database went away")
        return {k: self.values[k] for k in keys if k in self.values}


async def test_concurrent_lookups_share_one_round():
    source = Source({"a": [1], "b": [2]})
    coalescer = Coalescer(source.fetch, list)
    results = await asyncio.gather(*(coalescer.get(k) for k in ["a", "b", "a", "x", "y"]))
    assert results == [[1], [2], [1], [], []]
    assert results[3] is not results[4], "each missing key gets its own fresh value"
    assert source.rounds == [["a", "b", "x", "y"]], "one round, each key once"


async def test_keys_asked_during_a_round_wait_for_the_next():
    source = Source({"a": 1, "b": 2})
    coalescer = Coalescer(source.fetch, lambda: None)
    source.release.clear()
    first = asyncio.ensure_future(coalescer.get("a"))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert source.rounds == [["a"]]
    second = asyncio.ensure_future(coalescer.get("b"))
    await asyncio.sleep(0)
    assert source.rounds == [["a"]], "b is not read in a round that started before it was asked"
    source.release.set()
    assert (await first, await second) == (1, 2)
    assert source.rounds == [["a"], ["b"]]


async def test_a_failed_round_fails_its_callers_and_the_next_round_goes_on():
    source = Source({"a": 1, "b": 2}, fail_first=True)
    coalescer = Coalescer(source.fetch, lambda: None)
    source.release.clear()
    first = asyncio.gather(coalescer.get("a"), coalescer.get("a"), return_exceptions=True)
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    later = asyncio.ensure_future(coalescer.get("b"))
    source.release.set()
    assert [type(r) for r in await first] == [ConnectionError, ConnectionError]
    assert await later == 2


async def test_rounds_hold_at_most_max_keys():
    source = Source({k: k for k in range(7)})
    coalescer = Coalescer(source.fetch, lambda: None, max_keys=3)
    assert await asyncio.gather(*(coalescer.get(k) for k in range(7))) == list(range(7))
    assert [len(r) for r in source.rounds] == [3, 3, 1]
