"""The statistics warehouse under a real `crossroads serve --workers 2`: the leader extracts and
publishes on its own every CROSSROADS_STATISTICS_EXTRACT_SECONDS, and both workers answer the
analysts (suppressed tables and differentially private figures) from the marts' read-only
snapshots, while an extraction may be running; an operator's extraction through whichever
worker answers is done or told `warehouse_unavailable` (the leader's is under way), never a
500. Which process answered is read from the access log (its `pid`, by request id)."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import httpx
import pytest

from crossroads.demo import country
from crossroads.demo.launch import wait_ready

from .processes import CLI, Deployment, wait_for

PROJECT = "LABOUR_MARKET_2026"


@pytest.fixture
def hub(tmp_path):
    deployment = Deployment(tmp_path, f"sqlite:///{tmp_path / 'hub' / 'crossroads.sqlite3'}")
    env = {
        **deployment.env,
        "CROSSROADS_WORKERS": "2",
        "CROSSROADS_LOG_LEVEL": "info",
        "CROSSROADS_STATISTICS_EXTRACT_SECONDS": "1",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log_path = tmp_path / "hub.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [*CLI, "serve", "--port", str(deployment.base_port)], env=env, stderr=log
        )
        try:
            wait_ready(f"{deployment.url(0)}/ready", process, timeout=90)
            yield deployment, log_path
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(30)
            deployment.stop_all()


def answered_by(log_path, request_ids: set[str]) -> dict[str, int]:
    """The pid of the process that answered each request, from the access log."""
    found = {}
    for line in log_path.read_text().splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("request_id") in request_ids:
                found[entry["request_id"]] = entry["pid"]
    return found


def test_both_workers_answer_analysts_while_the_leader_extracts_on_its_own(hub):
    deployment, log_path = hub
    base = deployment.url(0)
    put = httpx.put(
        f"{base}/admin/authorizations/STAT-2026-W",
        headers=deployment.operator,
        json={
            "consumer": country.BY_KEY["welfare"].number,
            "service": "statistics.aggregates",
            "purpose": PROJECT,
            "legal_basis": "Act of 15 January 1990, art. 5 (statistics for policy)",
            "allowed_fields": ["exchanges"],
            "valid_from": "2024-01-01",
        },
        timeout=10,
    )
    assert put.status_code in (200, 201), put.text
    analyst = {"Authorization": f"Bearer {deployment.token(0)}"}
    for subject in deployment.subjects[:12]:
        answer = httpx.post(
            f"{base}/v1/exchange/health.affiliation",
            headers=analyst,
            json={"subject": subject, "purpose": "SOCIAL_INTEGRATION"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text

    def extracted() -> bool:
        state = httpx.get(f"{base}/admin/statistics", headers=deployment.operator, timeout=10)
        assert state.status_code == 200, state.text
        body = state.json()
        return body["positions"]["exchanges"] > 0 and bool(body["published"])

    # Nobody asked for it: the leader's schedule extracts and publishes.
    wait_for(extracted, timeout=60)

    def ask(**body) -> httpx.Response:
        # A new connection each time: the kernel hands it to either worker.
        return httpx.post(
            f"{base}/v1/statistics/queries",
            headers=analyst,
            json={"project": PROJECT, "mart": "exchanges", **body},
            timeout=30,
        )

    def counted() -> int:
        table = ask(dimensions=["outcome"])
        assert table.status_code == 200, table.text
        return sum(c["value"] or 0 for c in table.json()["cells"] if c["outcome"] == "ok")

    # The schedule's next runs catch up with every exchange (the first may have come midway).
    wait_for(lambda: counted() >= 12, timeout=60)
    tables: dict[str, httpx.Response] = {}
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        table = ask(dimensions=["outcome"])
        assert table.status_code == 200, table.text
        ok = [c["value"] for c in table.json()["cells"] if c["outcome"] == "ok"]
        assert ok and ok[0] >= 12, table.text
        tables[table.headers["x-request-id"]] = table
        if len(tables) % 10 == 0 and len(set(answered_by(log_path, set(tables)).values())) == 2:
            break
    pids = answered_by(log_path, set(tables))
    assert len(set(pids.values())) == 2, f"one worker answered all {len(tables)} queries"

    private = [ask(protection="dp", epsilon=0.5) for _ in range(4)]
    assert [p.status_code for p in private] == [200] * 4, [p.text for p in private]
    assert private[-1].json()["budget"]["epsilon_spent"] == 2.0  # one budget across workers

    # The operator's own extraction, through whichever worker: done, or the leader's run is
    # under way; never two writers, never a 500.
    outcomes = []
    for _ in range(20):
        run = httpx.post(
            f"{base}/admin/statistics/extract", headers=deployment.operator, timeout=60
        )
        assert run.status_code in (200, 503), run.text
        if run.status_code == 503:
            assert run.json()["code"] == "warehouse_unavailable"
        outcomes.append(run.status_code)
        if 200 in outcomes:
            break
    assert 200 in outcomes
