"""The reference directory is the access control and the router: a member writes only within the
integration rights the registry grants it, and is sent only what it is registered to provide.

Each test is an attack by a member with a valid key (the demo's National Employment Office, whose
only right is JOB_SEEKER), on both stores.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossroads.demo import country
from crossroads.domain.audit import AuditRecord
from tests.conftest import start_demo_hub

pytestmark = pytest.mark.anyio

OPERATOR = {"Authorization": "Bearer operator-secret-for-tests"}
INTRUDER = f"{country.BY_KEY['unemployment'].number}:benefits-app"
INTRUDER_NUMBER = country.BY_KEY["unemployment"].number
FUND_A = country.BY_KEY["fund_a"].number
FUND_B = country.BY_KEY["fund_b"].number


@pytest.fixture
def demo(demo_on):
    return demo_on


async def as_member(
    demo, client: str, method: str, path: str, headers: dict | None = None, **kwargs
):
    token = await demo.token(client)
    return await demo.http.request(
        method, path, headers={"Authorization": f"Bearer {token}", **(headers or {})}, **kwargs
    )


async def records(demo) -> list[AuditRecord]:
    return [
        AuditRecord.from_canonical(entry)
        for _, entry in await demo.hub.store.audit.read(0, 1_000_000)
    ]


async def holders(demo, subject: str) -> list[dict]:
    answer = await demo.http.post(
        "/v1/directory/query", headers=OPERATOR, json={"subject": subject}
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["holders"]


def insured_by(subject: str) -> str:
    return next(
        line["institution"]
        for line in country.directory_lines([subject])
        if line["capacity"] == "HEALTH_INSURED"
    )


async def test_a_member_cannot_integrate_outside_its_rights_in_any_way(demo):
    subject = demo.held_by("welfare")[0]
    for change in (
        {"capacity": "HEALTH_INSURED"},
        {"capacity": "SOCIAL_ASSISTANCE", "phase": "provisional"},
        {"capacity": "HEALTH_INSURED", "sync": True},
    ):
        answer = await as_member(
            demo,
            INTRUDER,
            "POST",
            "/v1/directory/changes",
            json={"subject": subject, "start": "2024-01-01", **change},
        )
        assert answer.status_code == 403, answer.text
        assert (
            answer.json()["code"] == "no_integration_right" and answer.json()["field"] == "capacity"
        )
    assert not [
        h
        for h in await holders(demo, subject)
        if h["institution"] == INTRUDER_NUMBER and h["capacity"] != "JOB_SEEKER"
    ]
    refused = [
        r
        for r in await records(demo)
        if r.action == "directory.change" and r.outcome == "no_integration_right"
    ]
    assert len(refused) == 3 and all(r.consumer == INTRUDER_NUMBER for r in refused)
    # It cannot name another institution either: a member writes only its own entries.
    answer = await as_member(
        demo,
        INTRUDER,
        "POST",
        "/v1/directory/changes",
        json={
            "subject": subject,
            "institution": FUND_A,
            "capacity": "HEALTH_INSURED",
            "start": "2024-01-01",
        },
    )
    assert (answer.status_code, answer.json()["code"]) == (403, "forbidden")
    # Within its rights it integrates as before.
    answer = await as_member(
        demo,
        INTRUDER,
        "POST",
        "/v1/directory/changes",
        json={"subject": subject, "capacity": "JOB_SEEKER", "start": "2024-01-01"},
    )
    assert answer.status_code == 200, answer.text


async def test_ending_or_removing_an_entry_the_member_does_not_hold_is_refused_not_logged_done(
    demo,
):
    held = set(demo.held_by("unemployment", phase=None))
    subject = next(s for s in demo.held_by("welfare") if s not in held)
    before = await holders(demo, subject)
    for change in (
        {"op": "end", "capacity": "JOB_SEEKER", "end": "2026-01-31"},
        {"op": "remove", "capacity": "JOB_SEEKER"},
        {"op": "end", "capacity": "SOCIAL_ASSISTANCE", "end": "2026-01-31"},  # not its right
    ):
        answer = await as_member(
            demo, INTRUDER, "POST", "/v1/directory/changes", json={"subject": subject, **change}
        )
        assert (answer.status_code, answer.json()["code"]) == (404, "not_found"), answer.text
    assert await holders(demo, subject) == before
    mine = [r for r in await records(demo) if r.consumer == INTRUDER_NUMBER]
    assert [r.outcome for r in mine if r.kind == "directory"] == ["not_found"] * 3
    assert not [r for r in mine if r.action in ("directory.end", "directory.remove")]


async def test_a_bulk_import_reports_lines_outside_the_rights_by_number_and_applies_the_others(
    demo,
):
    a, b, c = demo.held_by("welfare")[:3]
    body = (
        "\n".join(
            [
                f'{{"subject": "{a}", "capacity": "JOB_SEEKER", "start": "2024-02-01"}}',
                f'{{"subject": "{b}", "capacity": "HEALTH_INSURED", "start": "2024-02-01"}}',
                f'{{"subject": "{c}", "capacity": ["JOB_SEEKER"], "start": "2024-02-01"}}',
                f'{{"subject": "{c}", "capacity": "JOB_SEEKER", "op": {{"x": 1}},'
                ' "start": "2024-02-01"}',
                f'{{"subject": "{c}", "capacity": "JOB_SEEKER", "start": "2024-02-01",'
                ' "end": "9999-12-31"}',
            ]
        )
        + "\n"
    )
    answer = await as_member(
        demo,
        INTRUDER,
        "POST",
        "/v1/directory/import",
        content=body.encode(),
        headers={"Content-Type": "application/jsonl"},
    )
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["lines"], report["applied"]) == (5, 2)
    assert [(e["line"], e["code"]) for e in report["errors"]] == [
        (2, "no_integration_right"),
        (3, "malformed_request"),
        (4, "malformed_request"),
    ]
    assert not [
        h
        for h in await holders(demo, b)
        if h["institution"] == INTRUDER_NUMBER and h["capacity"] != "JOB_SEEKER"
    ]


async def test_a_holder_that_is_not_a_registered_provider_is_never_sent_a_routed_request(demo):
    subject = demo.held_by("welfare")[0]
    # The operator lets the intruder integrate as HEALTH_INSURED (say, a licensed fund's sister
    # body), but does not register it as a provider of health.affiliation.
    assert (
        await demo.http.put(
            f"/admin/integration-rights/{INTRUDER_NUMBER}/HEALTH_INSURED",
            headers=OPERATOR,
            json={"legal_basis": "test"},
        )
    ).status_code == 201
    answer = await as_member(
        demo,
        INTRUDER,
        "POST",
        "/v1/directory/changes",
        json={"subject": subject, "capacity": "HEALTH_INSURED", "start": "2020-01-01"},
    )
    assert answer.status_code == 200, answer.text
    asked = await as_member(
        demo,
        demo.welfare,
        "POST",
        "/v1/exchange/health.affiliation",
        json={"subject": subject, "purpose": "SOCIAL_INTEGRATION"},
    )
    assert asked.status_code == 200, asked.text
    assert [a["provider"] for a in asked.json()["answers"]] == [insured_by(subject)]
    exchange = [r for r in await records(demo) if r.kind == "exchange"][-1]
    assert exchange.providers == (insured_by(subject),)
    # Registering it needs an address: without one the operator is told, and routing is unchanged.
    answer = await demo.http.put(
        f"/admin/services/health.affiliation/providers/{INTRUDER_NUMBER}", headers=OPERATOR
    )
    assert answer.status_code in (200, 201, 409), answer.text
    if answer.status_code == 409:
        assert "address" in answer.json()["message"]


async def test_one_unreachable_provider_does_not_refuse_the_answers_of_the_others(demo):
    subject = demo.held_by("welfare")[0]
    other = FUND_B if insured_by(subject) == FUND_A else FUND_A
    assert (
        await demo.http.post(
            "/v1/directory/changes",
            headers=OPERATOR,
            json={
                "subject": subject,
                "institution": other,
                "capacity": "HEALTH_INSURED",
                "start": "2020-01-01",
            },
        )
    ).status_code == 200
    fund = next(m for m in country.MEMBERS if m.number == other)
    assert (
        await demo.http.put(
            f"/admin/institutions/{other}",
            headers=OPERATOR,
            json={"name": fund.name, "base_url": "http://nowhere.test:1"},
        )
    ).status_code == 200
    asked = await as_member(
        demo,
        demo.welfare,
        "POST",
        "/v1/exchange/health.affiliation",
        json={"subject": subject, "purpose": "SOCIAL_INTEGRATION"},
    )
    assert asked.status_code == 200, asked.text
    answers = {a["provider"]: a for a in asked.json()["answers"]}
    assert "data" in answers[insured_by(subject)]
    assert answers[other]["error"]["code"] == "provider_unavailable"


async def test_a_provisional_integration_is_short_lived_and_counts_only_where_accepted(demo):
    subject = next(
        s for s in demo.held_by("welfare") if s not in demo.held_by("unemployment", phase=None)
    )
    provisional = {"subject": subject, "capacity": "JOB_SEEKER", "phase": "provisional"}
    # Opened on years of history, a provisional integration is refused: phase 1 starts at most
    # as long before today as it may run (an outside review integrated from 2020, with sync).
    old = await as_member(
        demo,
        INTRUDER,
        "POST",
        "/v1/directory/changes",
        json={**provisional, "start": "2024-01-01"},
    )
    assert (old.status_code, old.json()["code"]) == (422, "invalid_period"), old.text
    answer = await as_member(
        demo,
        INTRUDER,
        "POST",
        "/v1/directory/changes",
        json={**provisional, "start": (date.today() - timedelta(days=3)).isoformat()},
    )
    assert answer.status_code == 200, answer.text
    [entry] = [h for h in await holders(demo, subject) if h["institution"] == INTRUDER_NUMBER]
    until = date.today() + timedelta(days=demo.settings.provisional_days)
    assert (entry["phase"], entry["end"]) == ("provisional", until.isoformat())
    # The demo's authorization for the intruder does not accept provisional integrations...
    asked = await as_member(
        demo,
        INTRUDER,
        "POST",
        "/v1/exchange/employment.periods",
        json={"subject": subject, "purpose": "UNEMPLOYMENT_BENEFIT"},
    )
    assert (asked.status_code, asked.json()["code"]) == (403, "provisional_not_accepted")
    # ...and one that does lets it ask, for no longer than the provisional period.
    authorization = (
        await demo.hub.store.registry.find_authorizations(INTRUDER_NUMBER, "employment.periods")
    )[0]
    assert (
        await demo.http.put(
            f"/admin/authorizations/{authorization.reference}",
            headers=OPERATOR,
            json={
                "consumer": INTRUDER_NUMBER,
                "service": "employment.periods",
                "purpose": authorization.purpose,
                "legal_basis": authorization.legal_basis,
                "required_capacities": list(authorization.required_capacities),
                "allowed_fields": list(authorization.allowed_fields),
                "valid_from": authorization.valid_from.isoformat(),
                "accepts_provisional": True,
            },
        )
    ).status_code == 200
    asked = await as_member(
        demo,
        INTRUDER,
        "POST",
        "/v1/exchange/employment.periods",
        json={"subject": subject, "purpose": "UNEMPLOYMENT_BENEFIT"},
    )
    assert asked.status_code == 200, asked.text
    later = (until + timedelta(days=1)).isoformat()
    asked = await as_member(
        demo,
        INTRUDER,
        "POST",
        "/v1/exchange/employment.periods",
        json={
            "subject": subject,
            "purpose": "UNEMPLOYMENT_BENEFIT",
            "period": {"start": later, "end": later},
        },
    )
    assert (asked.status_code, asked.json()["code"]) == (403, "period_outside_integration")


async def test_an_authorization_covers_only_the_days_it_is_valid_for(demo):
    subject = demo.held_by("welfare")[
        0
    ]  # held since 2024-01-01 at the latest; ISC/24/101 is valid from 2024-01-01
    asked = await as_member(
        demo,
        demo.welfare,
        "POST",
        "/v1/exchange/person.identity",
        json={
            "subject": subject,
            "purpose": "SOCIAL_INTEGRATION",
            "period": {"start": "2023-12-31", "end": "2024-01-31"},
        },
    )
    assert (asked.status_code, asked.json()["code"]) == (403, "period_outside_authorization")


async def test_withdrawing_a_right_withdraws_what_the_entries_gave(demo):
    subject = demo.held_by("welfare")[0]
    body = {"subject": subject, "purpose": "SOCIAL_INTEGRATION"}
    assert (
        await as_member(demo, demo.welfare, "POST", "/v1/exchange/person.identity", json=body)
    ).status_code == 200
    welfare = country.BY_KEY["welfare"].number
    assert (
        await demo.http.delete(
            f"/admin/integration-rights/{welfare}/SOCIAL_ASSISTANCE", headers=OPERATOR
        )
    ).status_code == 204
    asked = await as_member(demo, demo.welfare, "POST", "/v1/exchange/person.identity", json=body)
    assert (asked.status_code, asked.json()["code"]) == (403, "subject_not_in_directory")
    registry = [r for r in await records(demo) if r.kind == "registry"]
    assert registry[-1].action == "integration_right.delete"


async def test_a_provider_whose_right_is_withdrawn_is_no_longer_routed_to(demo):
    subject = next(s for s in demo.held_by("welfare") if insured_by(s) == FUND_A)
    body = {"subject": subject, "purpose": "SOCIAL_INTEGRATION"}
    assert (
        await as_member(demo, demo.welfare, "POST", "/v1/exchange/health.affiliation", json=body)
    ).status_code == 200
    assert (
        await demo.http.delete(
            f"/admin/integration-rights/{FUND_A}/HEALTH_INSURED", headers=OPERATOR
        )
    ).status_code == 204
    asked = await as_member(
        demo, demo.welfare, "POST", "/v1/exchange/health.affiliation", json=body
    )
    assert (asked.status_code, asked.json()["code"]) == (404, "no_provider")


async def test_dates_at_the_calendar_edges_are_answers_not_faults(demo):
    subject = demo.held_by("welfare")[0]
    for change in (
        {"start": "2024-01-01", "end": "9999-12-31"},
        {"start": "9999-12-31", "end": "9999-12-31"},
        {"op": "end", "end": "9999-12-31"},
        {"op": "remove", "start": "0001-01-01", "end": "9999-12-31"},
        {"start": "0001-01-01"},
        {"op": "remove", "end": "0001-01-01"},
    ):
        answer = await as_member(
            demo,
            INTRUDER,
            "POST",
            "/v1/directory/changes",
            json={"subject": subject, "capacity": "JOB_SEEKER", **change},
        )
        assert answer.status_code < 500, (change, answer.text)


# The property: whatever changes a member sends, in whatever order, it never gains access to a
# person in a capacity outside its rights, and is never made a routed provider.

_DATES = st.sampled_from(
    [
        "0001-01-01",
        "2000-01-01",
        "2024-01-01",
        "2026-06-30",
        "2030-01-01",
        "9999-12-31",
        "2024-02-30",
        "",
    ]
)
_CHANGES = st.fixed_dictionaries(
    {
        "op": st.sampled_from(["integrate", "end", "remove"]),
        "subject_index": st.integers(0, 3),
        "capacity": st.sampled_from([c.code for c in country.CAPACITIES]),
        "phase": st.sampled_from(["provisional", "definitive"]),
        "institution": st.sampled_from([None, INTRUDER_NUMBER, FUND_A]),
        "start": _DATES,
        "end": _DATES,
        "sync": st.booleans(),
    }
)


def test_no_sequence_of_directory_changes_gives_a_member_access_outside_its_rights(
    tmp_path, store_url
):
    loop = asyncio.new_event_loop()
    demo = loop.run_until_complete(start_demo_hub(tmp_path, store_url, persons=40))
    subjects = demo.held_by("welfare")[:4]
    outside = [c.code for c in country.CAPACITIES if c.code != "JOB_SEEKER"]

    async def prepare():
        # An authorization that would let the intruder read anyone it held in any other capacity,
        # even provisionally, for any period: only its integration rights stand in the way.
        answer = await demo.http.put(
            "/admin/authorizations/ISC/PROBE/1",
            headers=OPERATOR,
            json={
                "consumer": INTRUDER_NUMBER,
                "service": "person.identity",
                "purpose": "PROBE",
                "legal_basis": "test",
                "required_capacities": outside,
                "allowed_fields": ["name"],
                "valid_from": "0001-01-01",
                "accepts_provisional": True,
            },
        )
        assert answer.status_code == 201, answer.text

    async def attack(changes: list[dict]) -> None:
        for change in changes:
            body = {k: v for k, v in change.items() if k != "subject_index" and v not in (None, "")}
            body["subject"] = subjects[change["subject_index"]]
            if change["op"] != "integrate":
                body.pop("sync")
            answer = await as_member(demo, INTRUDER, "POST", "/v1/directory/changes", json=body)
            assert answer.status_code < 500, answer.text
        for subject in subjects:
            asked = await as_member(
                demo,
                INTRUDER,
                "POST",
                "/v1/exchange/person.identity",
                json={"subject": subject, "purpose": "PROBE"},
            )
            assert asked.status_code == 403, asked.text
            routed = await as_member(
                demo,
                demo.welfare,
                "POST",
                "/v1/exchange/health.affiliation",
                json={"subject": subject, "purpose": "SOCIAL_INTEGRATION"},
            )
            assert INTRUDER_NUMBER not in [a["provider"] for a in routed.json().get("answers", [])]
            assert not [
                h
                for h in await holders(demo, subject)
                if h["institution"] == INTRUDER_NUMBER and h["capacity"] in outside
            ]

    @settings(
        max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(changes=st.lists(_CHANGES, min_size=1, max_size=6))
    def any_sequence(changes):
        loop.run_until_complete(attack(changes))

    try:
        loop.run_until_complete(prepare())
        any_sequence()
    finally:
        loop.run_until_complete(demo.http.aclose())
        loop.run_until_complete(demo.hub.close())
        loop.close()


async def test_an_upgraded_store_keeps_its_entries_working_as_reviewable_rights(store_url):
    """Schema 11 grants every pair the directory already held, and routes to holders with an
    address."""
    from crossroads.adapters.sql import migrate as migrations
    from crossroads.adapters.sql.store import open_store

    store = await open_store(store_url, run_migrations=False)
    db = store.db
    try:
        every = migrations.available(db.dialect)
        older = [m for m in every if m[0] < 11]
        await migrations.current_version(db)
        async with db.transaction() as tx:
            for number, name, sql in older:
                for statement in migrations._statements(sql):
                    await tx.execute(statement)
                await tx.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (?, ?)", (number, name)
                )
            await tx.execute(
                "INSERT INTO institutions VALUES ('0200000142', 'Fund', 'GOV', 'http://fund.test')"
            )
            await tx.execute("INSERT INTO capacities VALUES ('INSURED', 'Insured')")
            await tx.execute(
                "INSERT INTO services VALUES ('health', '1', 'Health', '', NULL, 'INSURED', '',"
                " '{}', '{}', '[\"x\"]')"
            )
            await tx.execute(
                "INSERT INTO integrations VALUES (?, '0200000142', 'INSURED', 2, 738000, NULL)",
                (b"k" * 32,),
            )
            await tx.execute(
                "INSERT INTO subscriptions VALUES ('s1', '0200000142', 'app', 'person.death', 'A',"
                " 'push', 'https://hooks.fund.example/in', 0)"
            )
        assert await migrations.migrate(db) == [name for number, name, _ in every if number >= 11]
        assert await db.fetchall("SELECT institution, capacity FROM integration_rights") == [
            ("0200000142", "INSURED")
        ]
        assert await db.fetchall("SELECT service, institution FROM routed_providers") == [
            ("health", "0200000142")
        ]
        [(bases,)] = await db.fetchall("SELECT webhook_bases FROM institutions")
        assert json.loads(bases) == ["https://hooks.fund.example/in"]
        [(legal_basis,)] = await db.fetchall("SELECT legal_basis FROM integration_rights")
        assert "review" in legal_basis
    finally:
        await store.close()
