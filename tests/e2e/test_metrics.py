"""/metrics shows what docs/deployment.md lists, each with its type: what only grows (failures
counted since the process started) is a counter, what goes up and down a gauge."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.anyio

DOCS = Path(__file__).resolve().parents[2] / "docs" / "deployment.md"


def documented() -> dict[str, str]:
    rows = re.findall(r"^\| `(crossroads_[a-z_]+)` \| (\w+) \|", DOCS.read_text(), re.MULTILINE)
    assert rows, "docs/deployment.md lists the metrics in a table"
    return dict(rows)


async def test_metrics_are_those_documented_with_their_types(demo):
    text = (await demo.http.get("/metrics")).text
    exposed = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.MULTILINE))
    # prometheus_client adds, beside each counter, a gauge of when it was created.
    exposed = {name: kind for name, kind in exposed.items() if not name.endswith("_created")}
    assert exposed == documented()


async def test_a_counted_failure_shows_as_a_counter_that_grows(demo):
    demo.hub.push.failures += 2  # as two failed push rounds leave it
    text = (await demo.http.get("/metrics")).text
    assert "# TYPE crossroads_push_round_failures_total counter" in text
    assert re.search(r"^crossroads_push_round_failures_total 2\.0$", text, re.MULTILINE)
