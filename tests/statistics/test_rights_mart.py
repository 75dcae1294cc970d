"""The rights mart: the rights engine's decisions reach the warehouse pseudonymised, read
incrementally by their changes in commit order (an institution's answer comes after the
decision, as a change of its own), and leave it only as the other marts' figures do: suppressed
small cells that no margin recovers, or DP counts within their stated bound. On a demo hub over
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import duckdb
import orjson
import pytest

from crossroads.demo import country
from crossroads.domain.callers import Caller
from crossroads.domain.registry import Authorization
from crossroads.domain.rights import CONFIRMED, Decision, Fact, RuleOutcome
from crossroads.domain.statistics.marts import MARTS
from crossroads.services.ports import Position
from crossroads.services.statistics_queries import AnalystQuery

from ..conftest import start_demo_hub
from .test_suppression import recoverable

pytestmark = pytest.mark.anyio
ANALYST = country.BY_KEY["welfare"].number
PROJECT = "NON_TAKE_UP_2026"
AT_MS = 1_767_225_600_000  # 2026-01-01
# (right, origin, child, persons): 2 found by a non-take-up scan is a small cell.
SEEDED = [
    ("increased-reimbursement", "change", False, 12),
    ("increased-reimbursement", "non-take-up", False, 2),
    ("child-social-supplement", "change", True, 9),
    ("social-energy-tariff", "change", False, 7),
]


@pytest.fixture
async def rights_hub(tmp_path, store_url):
    demo = await start_demo_hub(tmp_path, store_url, persons=60, demo=True)
    yield demo
    await demo.http.aclose()
    await demo.hub.close()


async def seed_decisions(hub, subjects: list[str]) -> list[Decision]:
    made, people = [], iter(subjects)
    for right, origin, child, persons in SEEDED:
        for n in range(persons):
            subject = next(people)
            decision = Decision(
                id=f"{right}-{origin}-{n}",
                subject=subject,
                right=right,
                change="granted",
                outcome=RuleOutcome(right, True, None, "demo-be/test", "2026-01", {}, ("law",)),
                facts=(Fact("child", child, "household.composition/1"),),
                competent=None,
                decided_at_ms=AT_MS,
                origin=origin,
            )
            await hub.store.rights.add([decision], hub.hasher.key(subject))
            made.append(decision)
    return made


async def authorize(hub) -> Caller:
    await hub.registry.by("test").put_authorization(
        Authorization(
            reference="STAT/RIGHTS",
            consumer=ANALYST,
            service="statistics.aggregates",
            purpose=PROJECT,
            legal_basis="Act of 15 January 1990, art. 5",
            required_capacities=(),
            allowed_fields=("rights",),
            valid_from=date(2024, 1, 1),
        )
    )
    return Caller(ANALYST, "case-app")


async def test_rights_reach_the_warehouse_pseudonymised_and_leave_it_protected(rights_hub):
    hub = rights_hub.hub
    subjects = rights_hub.seeded["subjects"][:30]
    made = await seed_decisions(hub, subjects)
    analyst = await authorize(hub)
    report = await hub.statistics_extraction.run()
    assert report.records["rights"] == 30

    def ask(**query):
        return hub.statistics.ask(analyst, PROJECT, None, AnalystQuery("rights", **query))

    by_right = await ask(group_by=("right_code", "origin"))
    cells = {(c["right_code"], c["origin"]): c for c in by_right["cells"]}
    assert cells[("increased-reimbursement", "change")]["value"] == 12
    assert cells[("child-social-supplement", "change")]["value"] == 9
    assert cells[("increased-reimbursement", "non-take-up")] == {
        "right_code": "increased-reimbursement",
        "origin": "non-take-up",
        "value": None,
        "suppressed": True,
    }
    # Every table an analyst can ask, and the attacker's exact algebra on all of them, do not
    # give back the two persons found by the scan (the suppressed cell's complements hold).
    mart = MARTS["rights"]
    threshold, decided = await _lattice(hub, mart)
    assert threshold == hub.statistics.protection.threshold
    finest = {k: (c.values[0] if c.values else None) for k, c in decided.items() if None not in k}
    truth = {}
    for right, origin, child, persons in SEEDED:
        key = ("2026Q1", right, "granted", origin, "pending", "child" if child else "adult")
        truth[key] = persons
    assert set(finest) == set(truth)
    assert recoverable(truth, decided) == {}
    ages = await ask(group_by=("age_group",))
    # The adults' margin is withheld as a complement: with the adults' released cells (12 and 7)
    # its 21 would give back the 2 found by the scan.
    assert {c["age_group"]: c["value"] for c in ages["cells"]} == {"adult": None, "child": 9}

    # A DP count within its stated bound, and the budget it used.
    private = await ask(
        protection="dp", epsilon=0.5, filters={"right_code": "social-energy-tariff"}
    )
    assert abs(private["value"] - 7) <= private["protection"]["error_bound"] * 20
    assert private["budget"]["epsilon_used"] == 0.5

    # An institution's answer after the extraction is in the next one, which reads only the
    # changes since (the twelve answers): each decision counts once, as it now stands.
    for decision in made[:12]:
        await hub.store.rights.answer(decision.answered(CONFIRMED, "fund", None))
    again = await hub.statistics_extraction.run()
    assert again.records["rights"] == 12
    statuses = await ask(group_by=("status",), filters={"right_code": "increased-reimbursement"})
    by_status = {c["status"]: c["value"] for c in statuses["cells"]}
    assert by_status == {"confirmed": 12, "pending": None}  # the two still pending: too few
    assert (await hub.statistics_extraction.run()).records["rights"] == 0

    # No identifier, nor the hub's subject key, reached the warehouse's files.
    folder = rights_hub.settings.data_dir / "statistics" / "warehouse"
    con = duckdb.connect()
    dump = str(con.execute(f"FROM '{folder}/rights.parquet'").fetchall())
    dump += str(con.execute(f"FROM '{folder}/mart_rights.parquet'").fetchall())
    assert "2026Q1" in dump
    for subject in subjects:
        assert subject not in dump and hub.hasher.hex(subject) not in dump
    records = [orjson.loads(raw) for _, raw in await hub.store.audit.read(0, 100_000)]
    uses = [r for r in records if r["kind"] == "statistics"]
    extracted = [u for u in uses if u.get("target") == "rights" and u["action"] == "extract"]
    assert len(extracted) == 3 and all(u["detail"]["legal_basis"] for u in extracted)  # 3 runs
    asked = [u for u in uses if u.get("target") == "rights" and u["action"] == "query"]
    assert len(asked) == 4 and {u["authorization"] for u in asked} == {"STAT/RIGHTS"}


async def test_the_engines_decisions_carry_their_origin_and_age_group_for_the_mart(rights_hub):
    hub = rights_hub.hub
    for subject in rights_hub.seeded["subjects"]:
        if await hub.rights.evaluate(subject):
            break
    batch = await hub.store.statistics.read("rights", Position(), 1_000)
    assert batch is not None
    columns = batch.tables["rights"]
    assert columns["origin"].to_pylist() and set(columns["origin"].to_pylist()) == {"change"}
    ages = columns["age_group"].to_pylist()
    assert set(ages) <= {"child", "adult"} and None not in ages
    assert all(isinstance(key, bytes) and len(key) >= 16 for key in columns["subject_key"].values)


async def _lattice(hub, mart):
    stored = await hub.warehouse.lattice(mart)
    assert stored is not None, "the extraction decides and stores every mart's lattice"
    return stored
