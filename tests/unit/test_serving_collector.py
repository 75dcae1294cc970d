"""A serving process freezes what start-up built and collects its young generation seldom;
the collector stays on, and cycles are still freed."""

import gc
import weakref

import pytest

from crossroads.entrypoints.serving_collector import YOUNG_GENERATION_THRESHOLD, settle_for_serving


@pytest.fixture
def collector():
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def test_the_young_threshold_is_raised_and_the_older_generations_keep_theirs(collector):
    _, middle, old = gc.get_threshold()
    settle_for_serving()
    assert gc.get_threshold() == (YOUNG_GENERATION_THRESHOLD, middle, old)
    assert gc.get_freeze_count() > 0
    assert gc.isenabled()


def test_a_cycle_made_after_start_up_is_still_collected(collector):
    settle_for_serving()
    gc.collect()  # the young generation's count starts from nothing

    class Node:
        pass

    node = Node()
    node.itself = node  # a cycle: reference counting alone never frees it
    gone = weakref.ref(node)
    del node
    kept = []  # the collector counts allocations net of frees: these stay alive
    for _ in range(YOUNG_GENERATION_THRESHOLD + 1_000):
        # No explicit collect: the young generation's own turn, after its threshold, frees it.
        kept.append([])
        if gone() is None:
            break
    assert gone() is None
    assert len(kept) > YOUNG_GENERATION_THRESHOLD // 2  # not freed by the old threshold's turn
