"""Rights granted without asking, end to end on a demo hub: the engine reads facts through the
hub as a member, decides, publishes to the competent institution, which confirms or refuses;
simulations; the non-take-up scan and its per-institution report."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from crossroads.demo import country, household_facts, rights
from crossroads.domain.audit import AuditRecord
from crossroads.domain.callers import Caller
from crossroads.domain.errors import Refusal

from ..conftest import start_demo_hub
from .test_citizen_api import sign_in

pytestmark = pytest.mark.anyio
FUND_A = f"{country.BY_KEY['fund_a'].number}:rights-app"
FUND_B = f"{country.BY_KEY['fund_b'].number}:rights-app"
ADMIN = {"Authorization": "Bearer operator-secret-for-tests"}


@pytest.fixture
async def rights_demo(tmp_path):
    demo = await start_demo_hub(tmp_path, demo=True)
    yield demo
    await demo.http.aclose()
    await demo.hub.close()


def fund_of(demo, subject: str) -> str:
    for line in country.directory_lines(demo.seeded["subjects"]):
        if line["subject"] == subject and line["capacity"] == "HEALTH_INSURED":
            return line["institution"]
    raise AssertionError(subject)


def reimbursed_by_income(demo, skip: int = 0) -> str:
    """An adult without benefits whom the rules grant the increased reimbursement by income
    (after `skip` others)."""
    for subject in demo.seeded["subjects"]:
        if country.is_child(subject) or any(household_facts.benefits(subject).values()):
            continue
        composition = household_facts.household(subject)
        size = composition["adults"] + composition["children"]
        ceiling = 25_794.82 + 4_775.50 * (size - 1)
        if household_facts.income(subject)["yearly_income"] <= ceiling:
            if skip == 0:
                return subject
            skip -= 1
    raise AssertionError("the demo country has too few modest households")


async def records(demo) -> list[AuditRecord]:
    found, start = [], 0
    while batch := await demo.hub.store.audit.read(start, 1000):
        found += [AuditRecord.from_canonical(body) for _, body in batch]
        start = batch[-1][0] + 1
    return found


async def test_a_decision_reads_its_facts_through_the_hub_and_is_published_to_the_fund(
    rights_demo,
):
    demo = rights_demo
    subject = reimbursed_by_income(demo)
    made = await demo.hub.rights.evaluate(subject)
    granted = {d.right: d for d in made}["increased-reimbursement"]
    assert granted.change == "granted" and granted.status == "pending"
    assert granted.competent == fund_of(demo, subject)
    facts = {f.name: f for f in granted.facts}
    assert facts["household_income"].source == "household.income/1"
    assert facts["household_income"].provider == country.BY_KEY["benefits"].number
    assert facts["household_income"].authorization == "ISC/26/704"
    assert granted.outcome.parameters["increased_reimbursement.income_ceiling"] > 0
    engine = country.BY_KEY["rights"].number
    read = [r for r in await records(demo) if r.kind == "exchange" and r.consumer == engine]
    assert {r.authorization for r in read} >= {
        "ISC/26/702",
        "ISC/26/703",
        "ISC/26/704",
        "ISC/26/705",
        "ISC/26/706",
    }
    assert all(r.outcome == "ok" and r.purpose == "AUTOMATIC_RIGHTS" for r in read)
    # The fund that holds the person receives the mutation; the other fund does not.
    holder = FUND_A if granted.competent == country.BY_KEY["fund_a"].number else FUND_B
    other = FUND_B if holder == FUND_A else FUND_A
    for client, expected in ((holder, 1), (other, 0)):
        token = await demo.token(client)
        box = await demo.http.get("/v1/mailbox", headers={"Authorization": f"Bearer {token}"})
        assert box.status_code == 200, box.text
        about = [m for m in box.json()["messages"] if m["event"]["subject"] == subject]
        assert len(about) == expected, client
    # Nothing changed: a second evaluation decides nothing new.
    assert [d.right for d in await demo.hub.rights.evaluate(subject)] == []


async def test_the_engine_is_no_back_door_a_person_it_does_not_hold_is_refused(rights_demo):
    outsider = country.national_number(country.date(1980, 5, 5), 123)
    assert outsider not in rights_demo.seeded["subjects"]
    answer = await rights_demo.http.post(
        "/admin/rights/evaluate", headers=ADMIN, json={"subject": outsider}
    )
    assert answer.status_code == 403 and answer.json()["code"] == "subject_not_in_directory"


async def test_only_the_competent_institution_confirms_once_and_it_is_audited(rights_demo):
    demo = rights_demo
    subject = reimbursed_by_income(demo)
    [decision] = [
        d for d in await demo.hub.rights.evaluate(subject) if d.right == "increased-reimbursement"
    ]
    competent = FUND_A if decision.competent == country.BY_KEY["fund_a"].number else FUND_B
    other = FUND_B if competent == FUND_A else FUND_A
    path = f"/v1/rights/decisions/{decision.id}"
    other_token = await demo.token(other)
    refused = await demo.http.post(
        f"{path}/confirm", headers={"Authorization": f"Bearer {other_token}"}, json={}
    )
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    token = {"Authorization": f"Bearer {await demo.token(competent)}"}
    listed = await demo.http.get("/v1/rights/decisions?status=pending", headers=token)
    assert decision.id in [d["id"] for d in listed.json()["decisions"]]
    confirmed = await demo.http.post(f"{path}/confirm", headers=token, json={"reason": "ok"})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "confirmed"
    again = await demo.http.post(f"{path}/refuse", headers=token, json={})
    assert again.status_code == 409 and again.json()["code"] == "conflict"
    answers = [r for r in await records(demo) if r.action == "rights.confirm"]
    assert [(r.target, r.consumer) for r in answers] == [(decision.id, decision.competent)]
    unknown = await demo.http.post(f"{path}x/confirm", headers=token, json={})
    assert unknown.status_code == 404


async def test_a_mutation_about_a_person_triggers_their_re_evaluation(rights_demo):
    demo = rights_demo
    subject = reimbursed_by_income(demo)
    token = await demo.token(f"{country.BY_KEY['benefits'].number}:register-app")
    published = await demo.http.post(
        "/v1/mutations/benefit.change",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "id": "benefit-1",
            "subject": subject,
            "effective_date": "2026-01-01",
            "payload": {"benefit": "integration_income", "event": "end", "date": "2026-01-01"},
        },
    )
    assert published.status_code == 201, published.text
    assert await demo.hub.rights_triggers.drain() == 1
    mine = await demo.hub.rights.of_person(subject)
    assert "increased-reimbursement" in {d.right for d in mine}
    assert await demo.hub.rights_triggers.drain() == 0  # acknowledged: read once


async def test_the_engine_wakes_when_a_change_reaches_its_mailbox_not_at_its_next_poll(
    rights_demo,
):
    """services/arrivals.py: the loop polls once an hour here, yet each change is decided."""
    demo = rights_demo
    token = await demo.token(f"{country.BY_KEY['benefits'].number}:register-app")
    engine = demo.hub.rights.reader.caller
    stop = asyncio.Event()
    loop = asyncio.create_task(demo.hub.rights_triggers.run(stop, lambda: True, 3600))
    try:
        for n in range(2):
            subject = reimbursed_by_income(demo, n)
            published = await demo.http.post(
                "/v1/mutations/benefit.change",
                headers={"Authorization": f"Bearer {token}"},
                json={
                    "id": f"benefit-{n}",
                    "subject": subject,
                    "effective_date": "2026-01-01",
                    "payload": {
                        "benefit": "disability_allowance",
                        "event": "end",
                        "date": "2026-01-01",
                    },
                },
            )
            assert published.status_code == 201, published.text
            for _ in range(600):  # up to a minute on a busy machine; an hour without the bell
                if not await demo.hub.mutations.mailbox(engine, 0, 1):
                    break
                await asyncio.sleep(0.1)
            assert await demo.hub.rights.of_person(subject), n
            await asyncio.sleep(0.3)  # the loop waits again before the next change
    finally:
        stop.set()
        await loop


async def fund_messages(demo, subject: str) -> list[str]:
    """The ids of the messages about `subject` in the mailbox of the fund that holds them."""
    fund = FUND_A if fund_of(demo, subject) == country.BY_KEY["fund_a"].number else FUND_B
    token = await demo.token(fund)
    box = await demo.http.get("/v1/mailbox", headers={"Authorization": f"Bearer {token}"})
    return [m["event"]["id"] for m in box.json()["messages"] if m["event"]["subject"] == subject]


@pytest.mark.parametrize("failing", ["mutations", "rights_decisions"])
async def test_a_decision_is_stored_with_its_announcement_or_not_at_all(
    tmp_path, store_url, failing
):
    """The decision and the mutation that announces it share one transaction, after the
    publication's audit record: a failure storing either stores neither (no announcement of a
    decision the hub does not hold); the next evaluation stores both, once."""
    demo = await start_demo_hub(tmp_path, store_url, persons=60)
    postgres = store_url.startswith("postgres")
    try:
        subject = reimbursed_by_income(demo)
        async with demo.hub.store.db.transaction() as tx:  # as a full disk would refuse it
            if postgres:
                await tx.execute(
                    "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN"
                    " RAISE EXCEPTION 'the disk is full'; END $$ LANGUAGE plpgsql"
                )
            await tx.execute(
                f"CREATE TRIGGER refuse BEFORE INSERT ON {failing}"
                + (
                    " FOR EACH ROW EXECUTE FUNCTION refuse()"
                    if postgres
                    else " BEGIN SELECT RAISE(ABORT, 'the disk is full'); END"
                )
            )
        with pytest.raises(Exception, match="the disk is full"):
            await demo.hub.rights.evaluate(subject)
        assert await demo.hub.rights.of_person(subject) == []
        assert await fund_messages(demo, subject) == []
        assert [r for r in await records(demo) if r.action == "mutation.publish"]  # audited first
        async with demo.hub.store.db.transaction() as tx:
            await tx.execute("DROP TRIGGER refuse" + (f" ON {failing}" if postgres else ""))
        [granted] = [d for d in await demo.hub.rights.evaluate(subject) if d.right == rights.BIM]
        assert await demo.hub.store.rights.get(granted.id) == granted
        assert await fund_messages(demo, subject) == [granted.id]
    finally:
        await demo.http.aclose()
        await demo.hub.close()


async def test_an_anonymous_simulation_explains_and_keeps_nothing(rights_demo):
    http = rights_demo.http
    answer = await http.post(
        "/v1/rights/simulations",
        json={"adults": 1, "children": 2, "household_income": 18_000, "child": False},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    found = {r["right"]: r for r in body["rights"]}
    assert found["increased-reimbursement"]["granted"] and body["stored"] is False
    assert {f["source"] for f in body["facts"]} == {"simulation"}
    bad = await http.post("/v1/rights/simulations", json={"adults": -1})
    assert bad.status_code in (400, 422) and bad.json()["code"] == "malformed_request"
    unknown = await http.post("/v1/rights/simulations", json={"salary": 1})
    assert unknown.status_code in (400, 422) and unknown.json()["code"] == "malformed_request"


async def test_a_signed_in_person_sees_their_rights_and_simulates_from_their_real_facts(
    rights_demo,
):
    demo = rights_demo
    subject = reimbursed_by_income(demo)
    await demo.hub.rights.evaluate(subject)
    someone_else = next(s for s in demo.seeded["subjects"] if s != subject)
    assert (await demo.http.get(f"/v1/citizen/rights?subject={subject}")).status_code == 401
    assert (await sign_in(demo, subject)).status_code in (200, 303)
    mine = await demo.http.get(f"/v1/citizen/rights?subject={subject}")
    assert mine.status_code == 200, mine.text
    [explained] = [d for d in mine.json()["decisions"] if d["right"] == "increased-reimbursement"]
    assert explained["rule"]["legal_basis"] and explained["facts"]
    theirs = await demo.http.get(f"/v1/citizen/rights?subject={someone_else}")
    assert theirs.status_code == 403
    before = len(await records(demo))
    simulated = await demo.http.post(
        "/v1/citizen/rights/simulations", json={"subject": subject, "household_income": 95_000}
    )
    assert simulated.status_code == 200, simulated.text
    body = simulated.json()
    today = {r["right"]: r["granted"] for r in body["today"]}
    after = {r["right"]: r["granted"] for r in body["rights"]}
    assert today["increased-reimbursement"] and not after["increased-reimbursement"]
    typed = [f for f in body["facts"] if f["source"] == "simulation"]
    assert typed == [
        {
            "name": "household_income",
            "value": 95_000,
            "source": "simulation",
            "provider": None,
            "authorization": None,
        }
    ]
    # Read through the hub, asked by the person themselves (`self`, not their number a second
    # time: the record is about them already); what they typed is in no record.
    reads = (await records(demo))[before:]
    assert {r.user_id for r in reads if r.kind == "exchange"} == {"self"}
    assert not any(subject.encode() in r.canonical() for r in reads)
    assert not any(b"95000" in r.canonical() for r in reads)
    decisions = await demo.hub.rights.of_person(subject)
    assert not any(b"95000" in orjson.dumps(d.explanation()) for d in decisions)


async def test_the_scan_finds_the_seeded_non_take_up_and_tells_only_the_competent_fund(
    rights_demo,
):
    demo = rights_demo
    scanned = await demo.http.post("/admin/rights/scan", headers=ADMIN)
    assert scanned.status_code == 200, scanned.text
    report = scanned.json()
    assert report["persons"] == len(demo.seeded["subjects"])
    assert report["found"]["increased-reimbursement"] > 0 and report["decisions"] > 0
    seen = {}
    for client in (FUND_A, FUND_B):
        token = {"Authorization": f"Bearer {await demo.token(client)}"}
        found = await demo.http.get("/v1/rights/non-take-up", headers=token)
        assert found.status_code == 200, found.text
        seen[client] = found.json()["decisions"]
        institution = client.split(":")[0]
        assert all(d["competent_institution"] == institution for d in seen[client])
        assert all(d["origin"] == "non-take-up" for d in seen[client])
    assert seen[FUND_A] or seen[FUND_B]
    scan_records = [r for r in await records(demo) if r.action == "rights.non-take-up-scan"]
    assert len(scan_records) == 1 and scan_records[0].subject_hash is None
    listed = await demo.http.get("/admin/rights/decisions?limit=1000", headers=ADMIN)
    origins = [d["origin"] for d in listed.json()["decisions"]]
    assert origins.count("non-take-up") == report["decisions"]
    # Granted now: a second scan does not find the same persons again.
    again = (await demo.http.post("/admin/rights/scan", headers=ADMIN)).json()
    assert again["decisions"] < report["decisions"]


async def test_the_rules_are_published_with_their_legal_bases(rights_demo):
    answer = await rights_demo.http.get("/v1/rights/rules")
    assert answer.status_code == 200
    body = answer.json()
    assert body["rule_version"] and len(body["rights"]) == 3


async def test_decisions_are_kept_and_answered_alike_on_sqlite_and_postgresql(tmp_path, store_url):
    demo = await start_demo_hub(tmp_path, store_url, persons=60)
    try:
        engine = demo.hub.rights
        subject = reimbursed_by_income(demo)
        [granted] = [d for d in await engine.evaluate(subject) if d.right == rights.BIM]
        stored = await demo.hub.store.rights.get(granted.id)
        assert stored == granted
        fund = country.BY_KEY["fund_a"].number
        caller = Caller(granted.competent, "rights-app")
        answered = await engine.answer(caller, granted.id, False, "already granted by hand")
        assert (answered.status, answered.answer_reason) == ("refused", "already granted by hand")
        with pytest.raises(Refusal) as twice:
            await engine.answer(caller, granted.id, True, None)
        assert twice.value.code == "conflict"
        refused = await engine.of_institution(caller, "refused", 10)
        assert [d.id for d in refused] == [granted.id]
        other = country.BY_KEY["fund_b"].number if granted.competent == fund else fund
        assert await engine.of_institution(Caller(other, "rights-app"), None, 10) == []
        key = demo.hub.hasher.key(subject)
        assert key not in await demo.hub.store.rights.holders(rights.BIM)  # refused: not held
        assert (await engine.of_person(subject))[0].id == granted.id
    finally:
        await demo.http.aclose()
        await demo.hub.close()


async def test_two_evaluations_of_one_person_at_once_make_one_decision_not_a_fault(
    tmp_path, store_url
):
    """Two scans, or a scan and a trigger, evaluating one person together: both read the same
    latest decisions, so both decide the same id; it is one decision, stored and told once."""
    demo = await start_demo_hub(tmp_path, store_url, persons=60)
    try:
        subject = reimbursed_by_income(demo)
        both = await asyncio.gather(*(demo.hub.rights.evaluate(subject) for _ in range(3)))
        ids = {d.id for made in both for d in made if d.right == rights.BIM}
        assert len(ids) == 1
        [kept] = [d for d in await demo.hub.rights.of_person(subject) if d.right == rights.BIM]
        assert kept.id in ids
    finally:
        await demo.http.aclose()
        await demo.hub.close()


async def test_the_portals_simulation_page_answers_in_the_readers_language(rights_demo):
    http = rights_demo.http
    empty = await http.get("/portal/rights?lang=fr")
    assert empty.status_code == 200 and "À quoi aurais-je droit si" in empty.text
    asked = await http.get(
        "/portal/rights",
        params={"household_income": "12000", "adults": "1", "children": "2", "lang": "nl"},
    )
    assert asked.status_code == 200
    assert "Verhoogde tegemoetkoming in de gezondheidszorg" in asked.text
    assert "Ja" in asked.text and "14 July 1994" in asked.text
    wrong = await http.get("/portal/rights", params={"household_income": "much", "lang": "en"})
    assert wrong.status_code == 400 and 'role="alert"' in wrong.text


async def test_a_decision_published_but_not_stored_is_stored_on_the_next_evaluation_once(
    rights_demo,
):
    """A crash between the publication and the store: the next evaluation gives the decision
    the same id, its mutation is a duplicate (accepted once), and the decision is kept."""
    demo = rights_demo
    subject = reimbursed_by_income(demo)
    [first] = [d for d in await demo.hub.rights.evaluate(subject) if d.right == rights.BIM]
    async with demo.hub.store.db.transaction() as tx:  # as if the hub died before storing it
        await tx.execute("DELETE FROM rights_decisions WHERE id = ?", (first.id,))
    [again] = [d for d in await demo.hub.rights.evaluate(subject) if d.right == rights.BIM]
    assert again.id == first.id
    assert (await demo.hub.store.rights.get(first.id)) is not None
    holder = FUND_A if first.competent == country.BY_KEY["fund_a"].number else FUND_B
    token = await demo.token(holder)
    box = await demo.http.get("/v1/mailbox", headers={"Authorization": f"Bearer {token}"})
    about = [m for m in box.json()["messages"] if m["event"]["subject"] == subject]
    assert [m["event"]["id"] for m in about] == [first.id]


async def test_another_adult_s_benefit_gives_the_household_the_energy_tariff(rights_demo):
    """The engine reads the other adults' benefits through the hub (household.benefits, its own
    authorization): a person who receives nothing, in a household where someone does, is granted
    the social energy tariff."""
    demo = rights_demo
    subject = next(
        s
        for s in demo.seeded["subjects"]
        if not country.is_child(s)
        and not any(household_facts.benefits(s).values())
        and any(any(m.values()) for m in household_facts.household_benefits(s)["members"])
    )
    made = {d.right: d for d in await demo.hub.rights.evaluate(subject)}
    tariff = made["social-energy-tariff"]
    assert tariff.change == "granted"
    [read] = [f for f in tariff.facts if f.name == "household_benefits"]
    assert read.value >= 1 and read.source == "household.benefits/1"
    assert (read.provider, read.authorization) == (country.BY_KEY["benefits"].number, "ISC/26/706")
