"""The statistics warehouse through a real `crossroads serve` process and the real command line:
an operator authorizes an analyst (no capacity), extracts, and publishes; the analyst asks over
HTTP for aggregates with their protection and budget; another application is refused; a budget
runs out with `privacy_budget_exhausted`; every question is in the audit log; the open data and
the public page are served with no small cell."""

from __future__ import annotations

import csv
import io
import json
import subprocess

import httpx

from crossroads.adapters.keys import generate_application_key, make_client_assertion, public_jwk
from crossroads.demo import country
from crossroads.demo.seed import client_key_path

from ..support import ASSERTION_TYPE
from .processes import CLI

PROJECT = "LABOUR_MARKET_2026"
THRESHOLD = 5  # CROSSROADS_STATISTICS_THRESHOLD's default


def token_of(deployment, client: str) -> str:
    key = json.loads(client_key_path(deployment.data_dir, client).read_text())
    answer = httpx.post(
        f"{deployment.url(0)}/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": make_client_assertion(
                client, f"{deployment.issuer}/oauth/token", key
            ),
        },
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def cli(deployment, *args: str) -> dict:
    done = subprocess.run(
        [*CLI, "statistics", *args], env=deployment.env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def statistics_records(deployment) -> list[dict]:
    url = deployment.env["CROSSROADS_STORE_URL"]
    script = (
        "import asyncio, json, sys\n"
        "from crossroads.adapters.sql.store import open_store\n"
        "async def main():\n"
        "    store = await open_store(sys.argv[1])\n"
        "    rows = await store.audit.read(0, 100000)\n"
        "    await store.close()\n"
        "    print(json.dumps([json.loads(r) for _, r in rows]))\n"
        "asyncio.run(main())\n"
    )
    out = subprocess.run(
        [*CLI[:1], "-c", script, url], capture_output=True, text=True, timeout=60, check=True
    )
    return [r for r in json.loads(out.stdout) if r["kind"] == "statistics"]


def test_analysts_ask_over_http_and_the_operator_publishes(deployment):
    deployment.start(0)
    base, welfare = deployment.url(0), country.BY_KEY["welfare"].number
    # The analyst's capability: an authorization for statistics.aggregates, with no capacity.
    put = httpx.put(
        f"{base}/admin/authorizations/STAT-2026-1",
        headers=deployment.operator,
        json={
            "consumer": welfare,
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
    # Two refusals of one outcome: a cell of two persons, which nothing may publish.
    outsiders = country.persons(400)[300:302]
    for subject in outsiders:
        refused = httpx.post(
            f"{base}/v1/exchange/health.affiliation",
            headers=analyst,
            json={"subject": subject, "purpose": "SOCIAL_INTEGRATION"},
            timeout=10,
        )
        assert refused.status_code != 200

    # Extraction on the store, beside the running hub (it has not opened the warehouse yet).
    extracted = cli(deployment, "extract")
    assert extracted["records"]["exchanges"] >= 14
    assert (deployment.data_dir / "statistics" / "warehouse" / "mart_exchanges.parquet").is_file()

    def ask(headers: dict, **body) -> httpx.Response:
        return httpx.post(
            f"{base}/v1/statistics/queries",
            headers=headers,
            json={"project": PROJECT, "mart": "exchanges", **body},
            timeout=30,
        )

    table = ask(analyst, dimensions=["outcome"])
    assert table.status_code == 200, table.text
    answer = table.json()
    assert answer["protection"]["kind"] == "suppression"
    assert answer["protection"]["threshold"] == THRESHOLD
    assert answer["budget"]["epsilon_used"] == 0
    released = {c["outcome"]: c["value"] for c in answer["cells"] if not c["suppressed"]}
    assert released.get("ok", 0) >= 12
    assert all(v >= THRESHOLD for v in released.values())
    assert any(c["suppressed"] and c["value"] is None for c in answer["cells"])

    spent = []
    for _ in range(4):  # the default budget, 2.0, in answers of 0.5
        private = ask(analyst, protection="dp", epsilon=0.5)
        assert private.status_code == 200, private.text
        body = private.json()
        assert body["protection"]["kind"] == "differential_privacy"
        assert body["protection"]["epsilon"] == 0.5 and body["protection"]["error_bound"] > 0
        spent.append(body["budget"]["epsilon_spent"])
    assert spent == [0.5, 1.0, 1.5, 2.0]
    exhausted = ask(analyst, protection="dp", epsilon=0.5)
    assert exhausted.status_code == 403
    assert exhausted.json()["code"] == "privacy_budget_exhausted"
    # The budget is the project's: another application of the analyst's institution, registered
    # since, finds it spent (keyed by application, it began afresh: 2.0 more per application).
    key = generate_application_key()
    second = httpx.put(
        f"{base}/admin/institutions/{welfare}/applications/stats-app",
        headers=deployment.operator,
        json={"name": "Statistics", "jwks": {"keys": [public_jwk(key)]}},
        timeout=10,
    )
    assert second.status_code == 201, second.text
    client_key_path(deployment.data_dir, f"{welfare}:stats-app").write_text(json.dumps(key))
    colleague = {"Authorization": f"Bearer {token_of(deployment, f'{welfare}:stats-app')}"}
    again = ask(colleague, protection="dp", epsilon=0.5)
    assert again.status_code == 403 and again.json()["code"] == "privacy_budget_exhausted"
    assert ask(colleague, dimensions=["outcome"]).json()["budget"]["epsilon_spent"] == 2.0

    other = f"{country.BY_KEY['unemployment'].number}:benefits-app"
    outsider = {"Authorization": f"Bearer {token_of(deployment, other)}"}
    unauthorized = ask(outsider, dimensions=["outcome"])
    assert unauthorized.status_code == 403, unauthorized.text
    assert unauthorized.json()["code"] == "no_authorization"
    beyond = ask(analyst, mart="employment")
    assert beyond.status_code == 403 and beyond.json()["code"] == "no_authorization"
    assert ask({"Authorization": "Bearer nonsense"}).status_code == 401

    queries = [r for r in statistics_records(deployment) if r["action"] == "query"]
    outcomes = sorted(r["outcome"] for r in queries)
    assert outcomes == sorted(
        ["ok"] * 6 + ["privacy_budget_exhausted"] * 2 + ["no_authorization"] * 2
    )
    assert all(r["purpose"] == PROJECT for r in queries)

    # The operator publishes through the running hub, which holds the warehouse now.
    published = cli(deployment, "publish", "--hub", base)
    assert {t["name"] for t in published["tables"]} >= {"exchanges_by_month"}
    meta = httpx.get(f"{base}/statistics/open-data/exchanges_by_month.json", timeout=10).json()
    assert meta["protection"]["kind"] == "suppression" and meta["threshold"] == THRESHOLD
    assert meta["extraction_positions"]["exchanges"] > 0 and meta["generated_at"].endswith("Z")
    text = httpx.get(f"{base}/statistics/open-data/exchanges_by_month.csv", timeout=10).text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows and any(r["suppressed"] == "True" and r["value"] == "" for r in rows)
    assert all(float(r["value"]) >= THRESHOLD for r in rows if r["value"])
    parquet = httpx.get(f"{base}/statistics/open-data/exchanges_by_month.parquet", timeout=10)
    assert parquet.status_code == 200 and parquet.content[:4] == b"PAR1"
    assert httpx.get(f"{base}/statistics/open-data/..%2Fsecrets.json").status_code == 404
    state = httpx.get(f"{base}/admin/statistics", headers=deployment.operator, timeout=10).json()
    assert state["positions"]["exchanges"] == meta["extraction_positions"]["exchanges"]
    assert "exchanges_by_month" in {t["name"] for t in state["published"]}

    page = httpx.get(f"{base}/statistics/?lang=en", timeout=10)
    assert page.status_code == 200 and "<svg" in page.text and "<script" not in page.text
    assert 'role="img"' in page.text and "<caption>" in page.text
    assert "Exchanges through the hub by month and outcome" in page.text
    assert "withheld" in page.text
    dutch = httpx.get(f"{base}/statistics/?lang=nl", timeout=10).text
    assert "Gepubliceerde statistieken" in dutch and "niet getoond" in dutch
    assert any(r["action"] == "publish" for r in statistics_records(deployment))
