"""Employer declarations over HTTP: DIMONA as JSON and XML, status by Location, mandates, batch
files, DmfA, social risks, and what they push and answer to the institutions."""

from __future__ import annotations

import asyncio
import json
from datetime import date, timedelta

import orjson
import pytest

from crossroads.adapters.keys import generate_application_key, public_jwk
from crossroads.demo import country, employers
from crossroads.demo.dmfa_file import WorkerLineSpec, dmfa_xml
from crossroads.demo.seed import client_key_path
from crossroads.domain.callers import Caller
from crossroads.domain.declarations.dmfa import Remuneration

pytestmark = pytest.mark.anyio
PAYROLL = f"{country.BY_KEY['payroll'].number}:payroll-app"
UNEMPLOYMENT = f"{country.BY_KEY['unemployment'].number}:benefits-app"
EMPLOYER, EMPLOYER_NOSS, _ = employers.EMPLOYERS[0]
OPERATOR = {"Authorization": "Bearer operator-secret-for-tests"}


async def headers(demo, client=PAYROLL, **more) -> dict:
    return {"Authorization": f"Bearer {await demo.token(client)}", **more}


def worker(demo) -> str:
    """An adult of the demo with no DIMONA period yet, different at each call on one demo hub (the
    demo remembers which were given: a set shared by every test of the process ran out when other
    modules' tests drew from it first)."""
    taken: set[str] = demo.__dict__.setdefault("workers_taken", set())
    declared = {s for s, *_ in employers.employed(demo.seeded["subjects"])}
    for subject in demo.seeded["subjects"]:
        if subject not in declared and subject not in taken and not country.is_child(subject):
            taken.add(subject)
            return subject
    raise AssertionError("no free worker")


def dimona_in(subject: str, start: date, employer: str = EMPLOYER, **features) -> dict:
    body = employers.dimona_in(subject, employer, start, "OTH")
    body["DimonaIn"]["DimonaFeatures"].update(features)
    return body


async def test_in_out_through_the_rest_channel_on_both_stores(demo_on):
    demo = demo_on
    h = await headers(demo)
    subject, today = worker(demo), demo.hub.clock.today()
    created = await demo.http.post(
        "/v1/declarations/dimona", json=dimona_in(subject, today), headers=h
    )
    assert created.status_code == 201, created.text
    location = created.headers["location"]
    status = (await demo.http.get(location, headers=h)).json()
    assert status["result"] == "A" and status["anomalies"] == [] and status["dimonaPeriodId"]
    period_id = status["dimonaPeriodId"]

    again = (
        await demo.http.post("/v1/declarations/dimona", json=dimona_in(subject, today), headers=h)
    ).json()
    assert again["result"] == "B" and [a["errorId"] for a in again["anomalies"]] == ["90373-333"]

    out = {
        "DimonaOut": {
            "DimonaPeriodId": period_id,
            "EndingDate": today.isoformat(),
            "EmployerId": {"CompanyID": EMPLOYER},
        }
    }
    ended = (await demo.http.post("/v1/declarations/dimona", json=out, headers=h)).json()
    assert ended["result"] == "A" and ended["summary"]["period"]["end"] == today.isoformat()
    closed_again = (await demo.http.post("/v1/declarations/dimona", json=out, headers=h)).json()
    assert [a["errorId"] for a in closed_again["anomalies"]] == ["00913-356"]

    [period] = await demo.hub.store.declarations.periods_of(subject)
    assert (period.id, period.end, period.status) == (period_id, today, "closed")


async def test_concurrent_overlapping_ins_accept_exactly_one(demo_on):
    demo = demo_on
    h = await headers(demo)
    subject, today = worker(demo), demo.hub.clock.today()
    answers = await asyncio.gather(
        *(
            demo.http.post("/v1/declarations/dimona", json=dimona_in(subject, today), headers=h)
            for _ in range(6)
        )
    )
    results = sorted(a.json()["result"] for a in answers)
    assert results == ["A", "B", "B", "B", "B", "B"]
    assert len(await demo.hub.store.declarations.periods_of(subject)) == 1


async def test_the_official_xml_is_taken_as_it_is(demo):
    h = await headers(demo, **{"Content-Type": "application/xml", "Accept-Language": "fr"})
    subject = worker(demo)
    xml = (
        f"<Dimona><Form><Identification>DIMONA</Identification><FormCreationDate>2026-12-01</FormCreationDate>"
        f"<FormCreationHour>09:00:00.000</FormCreationHour><AttestationStatus>0</AttestationStatus><TypeForm>SU</TypeForm>"
        f"<DimonaIn><StartingDate>{demo.hub.clock.today()}</StartingDate><EmployerId><NOSSRegistrationNbr>{EMPLOYER_NOSS}"
        f"</NOSSRegistrationNbr></EmployerId><NaturalPerson><INSS>{subject}</INSS></NaturalPerson><DimonaFeatures>"
        f"<JointCommissionNbr>XXX</JointCommissionNbr><WorkerType>OTH</WorkerType></DimonaFeatures></DimonaIn></Form></Dimona>"
    )
    accepted = await demo.http.post("/v1/declarations/dimona", content=xml.encode(), headers=h)
    assert accepted.status_code == 201 and accepted.json()["result"] == "A", accepted.text
    broken = await demo.http.post(
        "/v1/declarations/dimona", content=xml.replace("OTH", "ZZZ").encode(), headers=h
    )
    body = broken.json()
    assert broken.status_code == 201 and body["result"] == "B"
    [anomaly] = body["anomalies"]
    assert (
        anomaly["errorId"] == "00655-003"
        and anomaly["label"] == "Invalide"
        and anomaly["labelNl"] == "Ongeldig"
    )
    assert anomaly["path"] == "/Dimona/Form/DimonaIn/DimonaFeatures/WorkerType"


async def test_a_refused_form_goes_by_its_name_and_its_anomalies_point_into_the_official_form(demo):
    h = await headers(demo)
    bad_inss = dimona_in(worker(demo), demo.hub.clock.today())
    bad_inss["DimonaIn"]["NaturalPerson"]["INSS"] = (
        "85073100131"  # eleven digits, wrong check digits
    )
    refused = (await demo.http.post("/v1/declarations/dimona", json=bad_inss, headers=h)).json()
    assert (refused["result"], refused["form"]) == ("B", "DimonaIn")
    assert [(a["errorId"], a["path"]) for a in refused["anomalies"]] == [
        ("00024-003", "/Dimona/Form/DimonaIn/NaturalPerson/INSS")
    ]
    off_schema = {
        "DimonaOut": {
            "DimonaPeriodId": "not a number",
            "EndingDate": "2026-12-01",
            "EmployerId": {"CompanyID": EMPLOYER},
        }
    }
    unreadable = await demo.http.post("/v1/declarations/dimona", json=off_schema, headers=h)
    assert unreadable.status_code == 201 and unreadable.json()["form"] == "DimonaOut"
    assert unreadable.json()["anomalies"][0]["path"] == "/Dimona/Form/DimonaOut/DimonaPeriodId"
    stored = (await demo.http.get(unreadable.headers["location"], headers=h)).json()
    assert (stored["result"], stored["form"]) == ("B", "DimonaOut")


@pytest.mark.parametrize(
    "content, content_type, code",
    [
        (b"<Dimona><Form>", "application/xml", "malformed_xml"),
        (
            b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><Dimona>&x;</Dimona>',
            "application/xml",
            "forbidden_xml",
        ),
        (b"<DmfAOriginal/>", "application/xml", "malformed_xml"),
        (b"{not json", "application/json", "malformed_request"),
        (b"[1, 2]", "application/json", "malformed_request"),
        (b"DimonaIn", "text/plain", "unsupported_media_type"),
    ],
)
async def test_unreadable_documents_get_one_clear_error(demo, content, content_type, code):
    response = await demo.http.post(
        "/v1/declarations/dimona",
        content=content,
        headers=await headers(demo, **{"Content-Type": content_type}),
    )
    assert response.status_code in (400, 415) and response.json()["code"] == code, response.text


async def test_a_declarant_needs_a_mandate_and_sees_only_its_own(demo):
    subject = worker(demo)
    welfare = await headers(demo, demo.welfare)  # an institution with no mandate for this employer
    refused = await demo.http.post(
        "/v1/declarations/dimona", json=dimona_in(subject, demo.hub.clock.today()), headers=welfare
    )
    assert refused.status_code == 403 and refused.json()["code"] == "no_mandate"
    assert await demo.hub.store.declarations.periods_of(subject) == []
    dmfa = dmfa_xml(
        20263, EMPLOYER_NOSS, EMPLOYER, [WorkerLineSpec(subject)], demo.hub.declarations.dmfa_rates
    )
    refused_dmfa = await demo.http.post(
        "/v1/declarations/dmfa",
        content=dmfa,
        headers={**welfare, "Content-Type": "application/xml"},
    )
    assert refused_dmfa.status_code == 403 and refused_dmfa.json()["code"] == "no_mandate"
    mine = await demo.http.post(
        "/v1/declarations/dimona",
        json=dimona_in(subject, demo.hub.clock.today()),
        headers=await headers(demo),
    )
    other = await demo.http.get(mine.headers["location"], headers=welfare)
    assert other.status_code == 404 and other.json()["code"] == "not_found"


async def application_of(demo, number: str, name: str) -> str:
    """Register `number` as a member with one application (its key where the demo keeps keys);
    its client id."""
    member = await demo.http.put(
        f"/admin/institutions/{number}", json={"name": name}, headers=OPERATOR
    )
    assert member.status_code in (200, 201), member.text
    key = generate_application_key()
    app = await demo.http.put(
        f"/admin/institutions/{number}/applications/app",
        json={"name": name, "jwks": {"keys": [public_jwk(key)]}},
        headers=OPERATOR,
    )
    assert app.status_code == 201, app.text
    client_key_path(demo.settings.data_dir, f"{number}:app").write_text(json.dumps(key))
    return f"{number}:app"


async def test_an_employer_reads_what_every_office_declared_for_it_and_an_office_only_its_own(
    demo,
):
    """An employer's own application lists and opens the declarations its payroll offices made
    for it (a mandate since ended included), with who sent each; an office never reads another
    office's declarations for the same employer."""
    today = demo.hub.clock.today()
    payroll = country.BY_KEY["payroll"].number
    other_office = country.enterprise_number(3_000_001)
    await demo.hub.declarations.put_mandate(other_office, EMPLOYER, date(2024, 1, 1), None)
    by_payroll = await demo.http.post(
        "/v1/declarations/dimona",
        json=dimona_in(worker(demo), today),
        headers=await headers(demo),
    )
    assert by_payroll.status_code == 201, by_payroll.text
    by_other = await demo.hub.declarations.submit_dimona(
        Caller(other_office, "app"), dimona_in(worker(demo), today), "en"
    )
    assert by_other.status == "A"
    # The other office's mandate has ended since: what it declared stays the employer's history.
    await demo.hub.declarations.put_mandate(
        other_office, EMPLOYER, date(2024, 1, 1), today - timedelta(days=1)
    )
    employer = await headers(demo, await application_of(demo, EMPLOYER, "Demo Employer 1"))

    listed = await demo.http.get("/v1/declarations", headers=employer)
    assert listed.status_code == 200, listed.text
    page = listed.json()["declarations"]
    ids = [d["declarationId"] for d in page]
    assert ids == sorted(ids, reverse=True) and {d["employer"] for d in page} == {EMPLOYER}
    sent_by = {d["declarationId"]: d["sentBy"] for d in page}
    mine = int(by_payroll.headers["location"].rsplit("/", 1)[1])
    assert sent_by[mine] == payroll and sent_by[by_other.id] == other_office
    one = await demo.http.get(f"/v1/declarations/{by_other.id}", headers=employer)
    assert one.status_code == 200 and one.json()["sentBy"] == other_office

    office = await headers(demo)
    office_ids = set()
    before = None
    while True:  # every page of the office's list
        answer = (
            await demo.http.get(
                "/v1/declarations", params={"before": before} if before else {}, headers=office
            )
        ).json()
        office_ids |= {d["declarationId"] for d in answer["declarations"]}
        assert {d["sentBy"] for d in answer["declarations"]} <= {payroll}
        if (before := answer["next_before"]) is None:
            break
    assert mine in office_ids and by_other.id not in office_ids
    hidden = await demo.http.get(f"/v1/declarations/{by_other.id}", headers=office)
    assert hidden.status_code == 404 and hidden.json()["code"] == "not_found"
    # An unrelated institution reads neither, nor finds them listed.
    welfare = await headers(demo, demo.welfare)
    assert (await demo.http.get(f"/v1/declarations/{mine}", headers=welfare)).status_code == 404
    assert (await demo.http.get("/v1/declarations", headers=welfare)).json()["declarations"] == []


async def test_the_employment_office_reads_declared_periods_through_the_hub(demo):
    h = await headers(demo)
    job_seeker = next(s for s in demo.held_by("unemployment") if not country.is_child(s))
    existing = await demo.hub.store.declarations.periods_of(job_seeker)
    start = date(2026, 11, 2)
    employer = employers.EMPLOYERS[5][0]
    accepted = (
        await demo.http.post(
            "/v1/declarations/dimona", json=dimona_in(job_seeker, start, employer), headers=h
        )
    ).json()
    assert accepted["result"] in ("A", "W"), accepted
    out = {
        "DimonaOut": {
            "DimonaPeriodId": accepted["dimonaPeriodId"],
            "EndingDate": "2026-11-30",
            "EmployerId": {"CompanyID": employer},
        }
    }
    assert (await demo.http.post("/v1/declarations/dimona", json=out, headers=h)).json()[
        "result"
    ] == "A"
    while await demo.hub.declaration_publisher.publish_pending():
        pass
    token = await demo.token(UNEMPLOYMENT)
    answer = await demo.http.post(
        "/v1/exchange/dimona.periods",
        json={"subject": job_seeker, "purpose": "UNEMPLOYMENT_BENEFIT"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text
    periods = answer.json()["answers"][0]["data"]["periods"]
    assert len(periods) == len(existing) + 1
    assert {"employer": employer, "start": "2026-11-02", "end": "2026-11-30"}.items() <= periods[
        -1
    ].items()


async def test_mutations_reach_exactly_the_entitled_subscribers(demo):
    h = await headers(demo)
    job_seeker = next(s for s in demo.held_by("unemployment") if not country.is_child(s))
    before = await _mutations_of(demo, job_seeker)
    accepted = (
        await demo.http.post(
            "/v1/declarations/dimona",
            json=dimona_in(job_seeker, date(2026, 10, 1), employers.EMPLOYERS[7][0]),
            headers=h,
        )
    ).json()
    out = {
        "DimonaOut": {
            "DimonaPeriodId": accepted["dimonaPeriodId"],
            "EndingDate": "2026-10-31",
            "EmployerId": {"CompanyID": employers.EMPLOYERS[7][0]},
        }
    }
    await demo.http.post("/v1/declarations/dimona", json=out, headers=h)
    while await demo.hub.declaration_publisher.publish_pending():
        pass
    assert (
        await demo.hub.declaration_publisher.publish_pending() == 0
    )  # nothing left, nothing twice
    after = await _mutations_of(demo, job_seeker)
    new = {(m[0], m[1]) for m in after} - {(m[0], m[1]) for m in before}
    assert ("employment.ended", country.BY_KEY["unemployment"].number) in new
    entitled = {country.BY_KEY["unemployment"].number}
    if job_seeker in demo.held_by("welfare"):
        entitled.add(country.BY_KEY["welfare"].number)
    assert {institution for _, institution in new} <= entitled


async def _mutations_of(demo, subject: str) -> list[tuple[str, str]]:
    key = demo.hub.hasher.key(subject)
    rows = await demo.hub.store.db.fetchall(
        "SELECT m.mutation_type, s.institution FROM mutations m"
        " JOIN deliveries d ON d.publisher = m.publisher AND d.mutation_id = m.id"
        " JOIN subscriptions s ON s.id = d.subscription WHERE m.subject_key = ?",
        (key,),
    )
    return [(r[0], r[1]) for r in rows]


async def test_a_batch_file_is_processed_once_and_acknowledged(demo):
    h = await headers(demo, **{"Content-Type": "application/json"})
    subjects = [worker(demo) for _ in range(3)]
    forms = [dimona_in(s, demo.hub.clock.today()) for s in subjects] + [
        dimona_in(subjects[0], demo.hub.clock.today())
    ]
    forms.append({"DimonaIn": {"StartingDate": "not a date"}})
    body = orjson.dumps(forms)
    uploaded = await demo.http.post("/v1/declarations/batches/dimona", content=body, headers=h)
    assert uploaded.status_code == 202 and uploaded.json()["result"] == "S", uploaded.text
    location = uploaded.headers["location"]
    waiting = await demo.http.get(location + "/acknowledgement", headers=h)
    assert waiting.status_code == 202 and waiting.json()["result"] == "S"
    duplicate = await demo.http.post("/v1/declarations/batches/dimona", content=body, headers=h)
    assert (
        duplicate.status_code == 200
        and duplicate.headers["location"] == location
        and duplicate.json()["duplicate"]
    )

    assert await demo.hub.declaration_batches.process_waiting() == 1
    assert await demo.hub.declaration_batches.process_waiting() == 0
    status = (await demo.http.get(location, headers=h)).json()
    assert status["result"] == "W" and status["acknowledgement"]
    ack = (await demo.http.get(location + "/acknowledgement", headers=h)).json()
    assert [d["result"] for d in ack["declarations"]] == ["A", "A", "A", "B", "B"]
    assert ack["declarations"][3]["anomalies"][0]["errorId"] == "90373-333"
    assert ack["declarations"][4]["anomalies"][0]["errorId"].startswith("00910-")
    assert ack["declarations"][4]["form"] == "DimonaIn"  # a refused form goes by its own name
    for subject in subjects:
        assert len(await demo.hub.store.declarations.periods_of(subject)) == 1


async def test_a_batch_interrupted_midway_resumes_after_the_forms_it_stored(demo):
    h = await headers(demo, **{"Content-Type": "application/json"})
    subjects = [worker(demo) for _ in range(4)]
    uploaded = await demo.http.post(
        "/v1/declarations/batches/dimona",
        headers=h,
        content=orjson.dumps([dimona_in(s, demo.hub.clock.today()) for s in subjects]),
    )
    batch = await demo.hub.store.declarations.next_batch()
    forms, _ = demo.hub.declarations.forms.read_dimona(
        orjson.loads(await demo.hub.store.declarations.batch_body(batch.id))[0]
    )
    # The worker stored the first form, then the process died before finishing the batch.
    await demo.hub.declarations.dimona_form(
        demo_caller(), forms[0], "nl", batch.id, strict_mandate=False
    )
    await demo.hub.declaration_batches.process_waiting()
    ack = (await demo.http.get(uploaded.headers["location"] + "/acknowledgement", headers=h)).json()
    assert [d["result"] for d in ack["declarations"]] == ["A"] * 4
    assert [len(await demo.hub.store.declarations.periods_of(s)) for s in subjects] == [1] * 4


def demo_caller():
    from crossroads.domain.callers import Caller

    institution, application = PAYROLL.split(":")
    return Caller(institution, application)


async def test_a_dmfa_is_checked_against_dimona_and_stored(demo):
    h = await headers(demo, **{"Content-Type": "application/xml"})
    reference_rates = demo.hub.declarations.dmfa_rates
    declared = [(s, e) for s, e, *_ in employers.employed(demo.seeded["subjects"]) if e == EMPLOYER]
    stranger = worker(demo)
    lines = [WorkerLineSpec(s) for s, _ in declared] + [WorkerLineSpec(stranger)]
    xml = dmfa_xml(20263, EMPLOYER_NOSS, EMPLOYER, lines, reference_rates)
    response = await demo.http.post("/v1/declarations/dmfa", content=xml, headers=h)
    body = response.json()
    assert response.status_code == 201 and body["result"] == "W", response.text
    assert [a["errorId"] for a in body["anomalies"]] == ["90015-485"]
    assert body["summary"]["worker_lines"] == len(lines)
    wages = await demo.hub.store.declarations.wages_of(declared[0][0])
    assert wages == [
        {
            "quarter": 20263,
            "employer": EMPLOYER,
            "worker_code": "495",
            "gross_cents": 900_000,
            "days": 65,
            "hours": 0,
            "joint_committees": ["200"],
        }
    ]
    refused = await demo.http.post(
        "/v1/declarations/dmfa",
        headers=h,
        content=dmfa_xml(20263, EMPLOYER_NOSS, EMPLOYER, lines, reference_rates, net_owed_delta=1),
    )
    assert refused.json()["result"] == "B" and "00015-007" in [
        a["errorId"] for a in refused.json()["anomalies"]
    ]
    assert (
        await demo.hub.store.declarations.wages_of(declared[0][0]) == wages
    )  # a refused DmfA changes nothing


async def test_social_risk_declarations(demo):
    h = await headers(demo)
    subject, employer, _start, _ = employers.employed(demo.seeded["subjects"])[0]
    body = {
        "inss": subject,
        "employer": employer,
        "last_day_worked": "2026-11-27",
        "end_reason": "dismissal",
        "weekly_hours": 38,
        "reference_weekly_hours": 38,
        "gross_monthly_cents": 320_000,
    }
    accepted = await demo.http.post(
        "/v1/declarations/social-risk/unemployment.end-of-employment", json=body, headers=h
    )
    assert accepted.status_code == 201 and accepted.json()["result"] == "A", accepted.text
    stranger = worker(demo)
    no_job = await demo.http.post(
        "/v1/declarations/social-risk/unemployment.end-of-employment",
        json={**body, "inss": stranger},
        headers=h,
    )
    assert [a["errorId"] for a in no_job.json()["anomalies"]] == ["SR003-354"]
    hours = {
        "inss": subject,
        "employer": employer,
        "month": "2026-11",
        "reason": "economic",
        "days": [{"date": "2026-11-03", "hours": 7.6}, {"date": "2026-12-01", "hours": 4}],
    }
    outside = (
        await demo.http.post(
            "/v1/declarations/social-risk/unemployment.temporary-hours", json=hours, headers=h
        )
    ).json()
    assert [a["errorId"] for a in outside["anomalies"]] == ["SR005-008"]
    bad = await demo.http.post(
        "/v1/declarations/social-risk/incapacity.work", json={"inss": subject}, headers=h
    )
    assert bad.status_code == 400 and bad.json()["code"] == "malformed_request"
    # A date the format check takes but Python's dates do not hold (year 0): refused, not a 500.
    for field in ("last_day_worked", "notice_end"):
        year_zero = await demo.http.post(
            "/v1/declarations/social-risk/unemployment.end-of-employment",
            json={**body, field: "0000-01-01"},
            headers=h,
        )
        assert (year_zero.status_code, year_zero.json()["field"]) == (400, field), year_zero.text
    odd_language = await demo.http.post(
        "/v1/declarations/social-risk/unemployment.end-of-employment",
        json={**body, "language": 5},
        headers=h,
    )
    assert odd_language.status_code == 400 and odd_language.json()["field"] == "language"
    unknown = await demo.http.post("/v1/declarations/social-risk/holiday", json=body, headers=h)
    assert unknown.status_code == 404
    [risk] = await demo.hub.store.declarations.social_risks_of(subject)
    assert (
        risk.form == "unemployment.end-of-employment" and risk.summary["end_reason"] == "dismissal"
    )


async def test_a_hostile_batch_file_is_refused_and_the_worker_goes_on(demo):
    h = await headers(demo, **{"Content-Type": "application/xml"})
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b"<Dimona>&b;</Dimona>"
    )
    hostile = await demo.http.post("/v1/declarations/batches/dimona", content=bomb, headers=h)
    subject = worker(demo)
    good = await demo.http.post(
        "/v1/declarations/batches/dimona",
        headers={**h, "Content-Type": "application/json"},
        content=orjson.dumps([dimona_in(subject, demo.hub.clock.today())]),
    )
    assert await demo.hub.declaration_batches.process_waiting(limit=5) == 2
    refused = (
        await demo.http.get(hostile.headers["location"] + "/acknowledgement", headers=h)
    ).json()
    assert refused["result"] == "B" and refused["error"]["code"] == "forbidden_xml"
    accepted = (
        await demo.http.get(good.headers["location"] + "/acknowledgement", headers=h)
    ).json()
    assert accepted["result"] == "A"
    metrics = (await demo.http.get("/metrics")).text
    assert "crossroads_declaration_batches_waiting 0.0" in metrics


async def test_a_dmfa_in_its_json_form(demo):
    h = await headers(demo)
    assisted = set(demo.held_by("welfare"))
    subject, employer = next(
        (s, e) for s, e, *_ in employers.employed(demo.seeded["subjects"]) if s in assisted
    )
    noss = next(n for c, n, _ in employers.EMPLOYERS if c == employer)
    rates = demo.hub.declarations.dmfa_rates
    basis, amount = rates.expected("495", [Remuneration("1", 400_000)])
    body = {
        "Quarter": 20263,
        "NOSSRegistrationNbr": noss,
        "Trusteeship": 0,
        "CompanyID": employer,
        "NetOwedAmount": amount,
        "NaturalPerson": [
            {
                "NaturalPersonSequenceNbr": 1,
                "INSS": subject,
                "WorkerRecord": {
                    "WorkerCode": "495",
                    "EmployerClass": "000",
                    "NOSSQuarterStartingDate": "2026-07-01",
                    "NOSSQuarterEndingDate": "2026-09-30",
                    "Border": 0,
                    "Occupation": {
                        "OccupationSequenceNbr": 1,
                        "JointCommissionNbr": "200",
                        "WorkingDaysSystem": 500,
                        "ContractType": 0,
                        "Retired": 0,
                        "Remun": {"RemunSequenceNbr": 1, "RemunCode": 1, "RemunAmount": 400_000},
                        "Service": {
                            "ServiceSequenceNbr": 1,
                            "ServiceCode": 1,
                            "ServiceNbrDays": 60,
                        },
                    },
                    "WorkerContribution": {
                        "ContributionWorkerCode": "495",
                        "ContributionType": 0,
                        "ContributionCalculationBasis": basis,
                        "ContributionAmount": amount,
                    },
                },
            }
        ],
    }
    response = await demo.http.post("/v1/declarations/dmfa", json=body, headers=h)
    assert response.status_code == 201 and response.json()["result"] == "A", response.text
    token = await demo.token(demo.welfare)
    # The welfare centre reads the wages of a person it assists, with only the fields it may see.
    answer = await demo.http.post(
        "/v1/exchange/wages.quarterly",
        json={"subject": subject, "purpose": "SOCIAL_INTEGRATION"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.json()["answers"][0]["data"]["quarters"] == [
        {"quarter": 20263, "gross_cents": 400_000, "days": 60}
    ]


async def test_an_expired_mandate_no_longer_allows_declaring(demo):
    payroll = country.BY_KEY["payroll"].number
    company, _noss, _ = employers.EMPLOYERS[3]
    # The seeded mandate from 2024-01-01 is given an end: it no longer covers today.
    await demo.hub.declarations.put_mandate(payroll, company, date(2024, 1, 1), date(2024, 12, 31))
    assert not await demo.hub.store.declarations.has_mandate(
        payroll, company, demo.hub.clock.today()
    )
    assert await demo.hub.store.declarations.has_mandate(payroll, company, date(2024, 6, 1))
    refused = await demo.http.post(
        "/v1/declarations/dimona",
        headers=await headers(demo),
        json=dimona_in(worker(demo), demo.hub.clock.today(), company),
    )
    assert refused.status_code == 403 and refused.json()["code"] == "no_mandate"


async def test_the_operator_registers_employers_and_mandates(demo):
    admin = {"Authorization": "Bearer operator-secret-for-tests"}
    created = await demo.http.put(
        "/admin/employers/0202239951", json={"name": "New Co", "noss": "2000094"}, headers=admin
    )
    assert created.status_code == 201 and created.json()["company_id"] == "0202239951"
    bad = await demo.http.put("/admin/employers/0202239952", json={"name": "Typo"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_identifier"
    mandate = await demo.http.put(
        "/admin/mandates",
        headers=admin,
        json={
            "office": country.BY_KEY["payroll"].number,
            "employer": "0202239951",
            "valid_from": "2026-01-01",
        },
    )
    assert mandate.status_code == 204
    unknown = await demo.http.put(
        "/admin/mandates",
        headers=admin,
        json={
            "office": country.BY_KEY["payroll"].number,
            "employer": "0403448140",
            "valid_from": "2026-01-01",
        },
    )
    assert unknown.status_code == 404
    accepted = await demo.http.post(
        "/v1/declarations/dimona",
        headers=await headers(demo),
        json=dimona_in(worker(demo), demo.hub.clock.today(), "0202239951"),
    )
    assert accepted.json()["result"] == "A"
    typo = await demo.http.post(
        "/v1/declarations/dimona",
        headers=await headers(demo),
        json=dimona_in(worker(demo), demo.hub.clock.today(), "0202239952"),
    )
    assert [a["errorId"] for a in typo.json()["anomalies"]] == ["00014-003"]
    forbidden = await demo.http.put(
        "/admin/employers/0202239951", json={"name": "x"}, headers=await headers(demo)
    )
    assert forbidden.status_code == 403


async def test_social_risks_are_published_to_the_employment_office(demo):
    h = await headers(demo)
    job_seeker = next(s for s in demo.held_by("unemployment") if not country.is_child(s))
    employer = employers.EMPLOYERS[9][0]
    accepted = (
        await demo.http.post(
            "/v1/declarations/dimona",
            json=dimona_in(job_seeker, date(2026, 6, 1), employer),
            headers=h,
        )
    ).json()
    assert accepted["result"] in ("A", "W")
    risk = {
        "inss": job_seeker,
        "employer": employer,
        "last_day_worked": "2026-11-27",
        "end_reason": "end_of_fixed_term",
        "weekly_hours": 19,
        "reference_weekly_hours": 38,
        "gross_monthly_cents": 150_000,
    }
    assert (
        await demo.http.post(
            "/v1/declarations/social-risk/unemployment.end-of-employment", json=risk, headers=h
        )
    ).json()["result"] == "A"
    while await demo.hub.declaration_publisher.publish_pending():
        pass
    assert ("social-risk.declared", country.BY_KEY["unemployment"].number) in await _mutations_of(
        demo, job_seeker
    )
    token = await demo.token(UNEMPLOYMENT)
    answer = await demo.http.post(
        "/v1/exchange/social-risk.declarations",
        json={"subject": job_seeker, "purpose": "UNEMPLOYMENT_BENEFIT"},
        headers={"Authorization": f"Bearer {token}"},
    )
    [declared] = answer.json()["answers"][0]["data"]["declarations"]
    assert (
        declared["scenario"] == "unemployment.end-of-employment"
        and declared["end_reason"] == "end_of_fixed_term"
    )


async def test_a_batch_that_cannot_be_read_whole_stores_none_of_its_forms(demo):
    h = await headers(demo, **{"Content-Type": "application/json"})
    subject = worker(demo)
    uploaded = await demo.http.post(
        "/v1/declarations/batches/dimona",
        headers=h,
        content=orjson.dumps([dimona_in(subject, demo.hub.clock.today()), 5]),
    )
    await demo.hub.declaration_batches.process_waiting()
    ack = (await demo.http.get(uploaded.headers["location"] + "/acknowledgement", headers=h)).json()
    assert (ack["result"], ack["forms"], ack["error"]["code"]) == ("B", 0, "malformed_request")
    assert await demo.hub.store.declarations.periods_of(subject) == []


async def test_a_batch_file_naming_a_key_twice_is_refused_whole(demo):
    """Read here as its last date, by another parser as its first: the file is not read."""
    h = await headers(demo, **{"Content-Type": "application/json"})
    subject = worker(demo)
    body = orjson.dumps([dimona_in(subject, demo.hub.clock.today())])
    assert body.count(b'"DimonaIn":{') == 1
    body = body.replace(b'"DimonaIn":{', b'"DimonaIn":{"StartingDate":"not a date",')
    uploaded = await demo.http.post("/v1/declarations/batches/dimona", headers=h, content=body)
    await demo.hub.declaration_batches.process_waiting()
    ack = (await demo.http.get(uploaded.headers["location"] + "/acknowledgement", headers=h)).json()
    assert (ack["result"], ack["forms"], ack["error"]["code"]) == ("B", 0, "malformed_request")
    assert ack["error"]["field"] == "[0].DimonaIn.StartingDate", ack
    assert await demo.hub.store.declarations.periods_of(subject) == []


async def test_an_office_whose_mandates_have_all_ended_declares_for_no_one(demo_on):
    """It once did (its mandates are still listed), but none is valid today: a form naming no
    employer, or one the register does not know, and a batch file were stored as its own (201,
    202); they are refused, the batch file before its body is read."""
    demo = demo_on
    office = country.BY_KEY["payroll"].number
    store = demo.hub.store.declarations
    yesterday = demo.hub.clock.today() - timedelta(days=1)
    for mandate in await store.list_mandates(office, None, None, 100):
        await store.put_mandate(office, mandate.employer, mandate.valid_from, yesterday)
    assert await store.list_mandates(office, None, None, 1)
    h = await headers(demo)
    for employer_id in ({}, {"CompanyID": "0999999980"}):
        form = dimona_in(worker(demo), demo.hub.clock.today())
        form["DimonaIn"]["EmployerId"] = employer_id
        answer = await demo.http.post("/v1/declarations/dimona", json=form, headers=h)
        assert answer.status_code == 403 and answer.json()["code"] == "no_mandate", answer.text
    sent = 0

    async def body():
        nonlocal sent
        for piece in (b'[{"DimonaIn": ', b"{}}]"):
            sent += 1
            yield piece

    batch = await demo.http.post(
        "/v1/declarations/batches/dimona",
        content=body(),
        headers={**h, "Content-Type": "application/json"},
    )
    assert batch.status_code == 403 and batch.json()["code"] == "no_mandate", batch.text
    assert sent == 0  # refused before the body was read
