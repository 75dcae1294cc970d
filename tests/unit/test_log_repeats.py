"""Repeated warnings are counted, not written again, for a minute; errors always are written."""

from __future__ import annotations

import io
import json
import logging

from crossroads.entrypoints.log_repeats import RepeatedWarnings
from crossroads.entrypoints.logs import JsonFormatter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def logged(clock: Clock) -> tuple[logging.Logger, io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RepeatedWarnings(60, clock))
    logger = logging.getLogger(f"test.repeats.{id(out)}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, out


def lines(out: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_warning_repeated_within_the_interval_is_counted_then_said():
    clock = Clock()
    logger, out = logged(clock)
    for second in range(90):  # a pool's attempts to connect again, one a second
        clock.now = float(second)
        logger.warning("error connecting in %r: %s", "pool-1", "connection refused")
    written = lines(out)
    assert [w["message"] for w in written] == [
        "error connecting in 'pool-1': connection refused",
        "error connecting in 'pool-1': connection refused"
        " (59 more like it in the 60 s since it was last written)",
    ]
    assert written[1]["repeated"] == 59


def test_the_count_says_how_long_it_gathered():
    """Held back for a minute, then quiet for an hour: the line says an hour, not a minute."""
    clock = Clock()
    logger, out = logged(clock)
    for second in range(59):
        clock.now = float(second)
        logger.warning("pool down")
    clock.now = 3600.0
    logger.warning("pool down")
    assert [w["message"] for w in lines(out)] == [
        "pool down",
        "pool down (58 more like it in the 3600 s since it was last written)",
    ]


def test_warnings_that_name_something_else_are_each_written():
    logger, out = logged(Clock())
    for _ in range(3):
        for host in ("fund.example:443", "register.example:443"):
            logger.warning("no answer in time from %s", host)
    assert [w["message"] for w in lines(out)] == [
        "no answer in time from fund.example:443",
        "no answer in time from register.example:443",
    ]


def test_other_warnings_errors_and_information_are_never_held_back():
    clock = Clock()
    logger, out = logged(clock)
    for _ in range(3):
        logger.warning("error connecting in %r: %s", "pool-1", "refused")
        logger.warning("cannot listen for credential changes (%s)", "refused")
        logger.error("audit append failed: %s", "disk full")
        logger.info("ready")
    messages = [w["message"] for w in lines(out)]
    assert messages.count("audit append failed: disk full") == 3
    assert messages.count("ready") == 3
    assert messages.count("error connecting in 'pool-1': refused") == 1
    assert messages.count("cannot listen for credential changes (refused)") == 1


def test_a_warning_whose_arguments_do_not_fit_is_left_to_the_handler():
    logger, out = logged(Clock())
    logger.warning("%d attempts", "many")  # the handler reports the formatting error, as ever
    logger.warning("after it")
    assert [w["message"] for w in lines(out)] == ["after it"]
