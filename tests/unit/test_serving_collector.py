"""A serving process freezes what start-up built and collects its young generation seldom; the
collector stays on, cycles are still freed, and leaving puts the collector back as it was."""

import gc
import weakref

import pytest

from crossroads.entrypoints.serving_collector import YOUNG_GENERATION_THRESHOLD, serving_collector


def test_the_young_threshold_is_raised_the_older_kept_and_all_put_back_on_leaving():
    before = gc.get_threshold()
    frozen_before = gc.get_freeze_count()
    with serving_collector():
        assert gc.get_threshold() == (YOUNG_GENERATION_THRESHOLD, before[1], before[2])
        assert gc.get_freeze_count() > frozen_before
        assert gc.isenabled()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_it_is_put_back_when_serving_fails():
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), serving_collector():
        raise RuntimeError("the server failed")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_a_cycle_made_after_start_up_is_still_collected():
    class Node:
        pass

    with serving_collector():
        gc.collect()  # the young generation's count starts from nothing
        node = Node()
        node.itself = node  # a cycle: reference counting alone never frees it
        gone = weakref.ref(node)
        del node
        kept = []  # the collector counts allocations net of frees: these stay alive
        # No explicit collect: the young generation's own turn, after its threshold, frees it.
        # Twice the threshold: other threads' frees meanwhile may put that turn off a little.
        for _ in range(2 * YOUNG_GENERATION_THRESHOLD):
            kept.append([])
            if gone() is None:
                break
        assert gone() is None
        assert len(kept) > YOUNG_GENERATION_THRESHOLD // 2  # not freed by the old threshold's turn
