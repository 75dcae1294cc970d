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
    for second in range(90):  # a pool's attempts to connect, one a second, each its own port
        clock.now = float(second)
        logger.warning("error connecting in %r: %s", "pool-1", f"port {second} refused")
    written = lines(out)
    assert [w["message"] for w in written] == [
        "error connecting in 'pool-1': port 0 refused",
        "error connecting in 'pool-1': port 60 refused (59 more like it in the last 60 s)",
    ]
    assert written[1]["repeated"] == 59


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
