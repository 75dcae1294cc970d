"""Push partitions: processes share the push subscriptions, one sender per subscription, and a
survivor takes over the partitions of a process that stopped."""

from __future__ import annotations

import pytest

from crossroads.adapters.sql.lease import FileLease
from crossroads.services.push_partitions import PushPartitions

pytestmark = pytest.mark.anyio
SUBSCRIPTIONS = ["sub-a", "sub-b", "sub-c", "sub-d", "sub-e"]


def process(tmp_path, count: int = 2) -> PushPartitions:
    """One hub process's view: its own lease objects on the shared lock files."""
    return PushPartitions(
        [FileLease(str(tmp_path / f"push-{n}.lock")) for n in range(count)], patience=3
    )


async def test_processes_starting_together_take_one_partition_each(tmp_path):
    a, b = process(tmp_path), process(tmp_path)
    for _ in range(6):
        await a.step()
        await b.step()
    assert len(a.held) == len(b.held) == 1 and a.held != b.held
    mine_a, mine_b = a.mine(SUBSCRIPTIONS), b.mine(SUBSCRIPTIONS)
    assert (
        mine_a | mine_b == set(SUBSCRIPTIONS) and not mine_a & mine_b
    )  # each subscription, one sender
    assert abs(len(mine_a) - len(mine_b)) <= 1
    await a.release()
    await b.release()


async def test_a_survivor_takes_over_within_a_few_rounds(tmp_path):
    a, b = process(tmp_path), process(tmp_path)
    await a.step()
    await b.step()
    await a.release()  # a stopped (or died: the kernel drops its locks the same way)
    for _ in range(3):
        await b.step()
    assert b.held == {0, 1} and b.mine(SUBSCRIPTIONS) == set(SUBSCRIPTIONS)
    c = process(tmp_path)
    for _ in range(6):
        await c.step()
    assert c.held == set() and c.mine(SUBSCRIPTIONS) == set()  # all taken: a latecomer waits
    await b.release()


async def test_a_single_partition_is_one_sender_for_all(tmp_path):
    a, b = process(tmp_path, 1), process(tmp_path, 1)
    await a.step()
    await b.step()
    assert (a.mine(SUBSCRIPTIONS), b.mine(SUBSCRIPTIONS)) == (set(SUBSCRIPTIONS), set())
    await a.release()
