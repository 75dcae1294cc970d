"""A bulk job pauses the cyclic collector and gives it back as it found it."""

import gc

import pytest

from crossroads.entrypoints.batch import bulk_job


def test_the_collector_is_paused_inside_and_restored_after_even_on_failure():
    assert gc.isenabled()
    with pytest.raises(RuntimeError), bulk_job():
        assert not gc.isenabled()
        assert gc.get_freeze_count() > 0
        raise RuntimeError("the job failed")
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_a_collector_that_was_off_stays_off():
    gc.disable()
    try:
        with bulk_job():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
