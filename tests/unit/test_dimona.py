"""DIMONA's rules on top of the schema: each broken rule gives exactly the glossary's anomaly."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from crossroads.adapters.be_reference import load_reference
from crossroads.domain.declarations.anomalies import status_of
from crossroads.domain.declarations.dimona import CANCEL, CANCELLED, CLOSED, IN, OPEN, OUT, UPDATE, DimonaForm, DimonaPeriod, DimonaRules, Register, decide, events_for
from crossroads.domain.declarations.employers import Employer, EmployerRef
from crossroads.domain.identifiers import scheme_for

TODAY = date(2026, 12, 1)
WORKER = "85073100130"  # a valid national number
OTHER_WORKER = "90020100229"
EMPLOYER = Employer("0403448140", "1000097", "Acme")


_normalise = scheme_for("BE").person_or_none


@pytest.fixture(scope="module")
def rules() -> DimonaRules:
    reference = load_reference()
    return DimonaRules(reference.dimona.glossary, reference.joint_committees, _normalise, late_tolerance_days=1,
                       valid_enterprise=scheme_for("BE").enterprise_is_valid)


def form_in(**changes) -> DimonaForm:
    base = DimonaForm(IN, EmployerRef(company_id=EMPLOYER.company_id), inss=WORKER, start=TODAY,
                      worker_type="OTH", joint_committee="XXX", path="/Dimona/Form/DimonaIn")
    return replace(base, **changes)


def period(**changes) -> DimonaPeriod:
    return replace(DimonaPeriod(7, EMPLOYER.company_id, WORKER, "OTH", "XXX", date(2026, 1, 1), None, OPEN), **changes)


def codes(decision) -> list[str]:
    return [a.code for a in decision.anomalies]


def test_a_correct_in_is_accepted_and_opens_a_period(rules):
    decision = decide(form_in(), rules, Register(EMPLOYER, []), TODAY)
    assert (decision.status, codes(decision)) == ("A", [])
    assert decision.period.status == OPEN and decision.period.start == TODAY and decision.created


@pytest.mark.parametrize("change, register_employer, expected", [
    ({"inss": "85073100131"}, EMPLOYER, "00024-003"),
    ({"inss": None}, EMPLOYER, "00024-001"),
    ({"employer": EmployerRef()}, EMPLOYER, "90256-364"),
    ({}, None, "00014-235"),
    ({"employer": EmployerRef(company_id="0403448141")}, EMPLOYER, "00014-003"),
    ({"employer": EmployerRef(noss="1999")}, None, "00011-235"),
    ({"worker_type": None}, EMPLOYER, "00655-001"),
    ({"joint_committee": None}, EMPLOYER, "00046-001"),
    ({"joint_committee": "999"}, EMPLOYER, "00046-003"),
    ({"end": date(2026, 11, 30)}, EMPLOYER, "00911-014"),
    ({"start": date(1919, 12, 31)}, EMPLOYER, "00910-008"),
    ({"worker_type": "STU"}, EMPLOYER, "01135-001"),
    ({"planned_hours": 10}, EMPLOYER, "01135-005"),
])
def test_each_broken_rule_gives_the_glossary_anomaly(rules, change, register_employer, expected):
    decision = decide(form_in(**change), rules, Register(register_employer, []), TODAY)
    assert [a.code for a in decision.anomalies if a.blocking] == [expected]  # that anomaly, and only it
    anomaly = next(a for a in decision.anomalies if a.code == expected)
    assert anomaly.severity == "B" and decision.status == "B" and decision.period is None
    assert anomaly.labels["nl"] and anomaly.labels["en"] and anomaly.path.startswith("/Dimona/Form/DimonaIn")


def test_an_inactive_employer_cannot_declare(rules):
    decision = decide(form_in(), rules, Register(replace(EMPLOYER, active=False), []), TODAY)
    assert codes(decision) == ["90373-343"]


def test_a_late_in_is_accepted_with_the_glossary_warning(rules):
    on_time = decide(form_in(start=date(2026, 11, 30)), rules, Register(EMPLOYER, []), TODAY)
    late = decide(form_in(start=date(2026, 11, 20)), rules, Register(EMPLOYER, []), TODAY)
    assert on_time.status == "A"
    assert (late.status, codes(late)) == ("W", ["90373-460"])
    assert late.anomalies[0].severity == "NP" and late.period is not None


def test_overlapping_and_duplicate_periods_are_refused(rules):
    existing = [period(start=date(2026, 11, 1))]
    duplicate = decide(form_in(start=date(2026, 11, 1)), rules, Register(EMPLOYER, existing), TODAY)
    overlap = decide(form_in(start=date(2026, 11, 15)), rules, Register(EMPLOYER, existing), TODAY)
    assert set(codes(duplicate)) == {"90373-333", "90373-460"} and duplicate.status == "B"
    assert "90373-334" in codes(overlap) and overlap.status == "B"


def test_other_worker_types_cancelled_and_ended_periods_do_not_overlap(rules):
    existing = [period(worker_type="STU"), period(id=8, status=CANCELLED),
                period(id=9, start=date(2026, 1, 1), end=date(2026, 6, 30), status=CLOSED)]
    assert decide(form_in(), rules, Register(EMPLOYER, existing), TODAY).status == "A"


def test_out_ends_an_open_period_of_the_employer(rules):
    out = DimonaForm(OUT, EmployerRef(company_id=EMPLOYER.company_id), period_id=7, end=date(2026, 11, 30),
                     path="/Dimona/Form/DimonaOut")
    decision = decide(out, rules, Register(EMPLOYER, [period()], period()), TODAY)
    assert decision.status == "A" and decision.period.end == date(2026, 11, 30) and decision.period.status == CLOSED
    [event] = events_for(out, period(), decision.period)
    assert (event.type, event.effective, event.subject) == ("employment.ended", date(2026, 11, 30), WORKER)


@pytest.mark.parametrize("named, form_changes, expected", [
    (None, {}, "00913-354"),
    (period(employer="0202239951"), {}, "00913-354"),  # another employer's period is "unknown"
    (period(status=CANCELLED), {}, "00913-355"),
    (period(end=date(2026, 6, 30), status=CLOSED), {}, "00913-356"),
    (period(), {"end": date(2025, 12, 31)}, "00911-014"),
    (period(), {"inss": OTHER_WORKER}, "00024-347"),
])
def test_out_refusals(rules, named, form_changes, expected):
    out = replace(DimonaForm(OUT, EmployerRef(company_id=EMPLOYER.company_id), period_id=7, end=date(2026, 11, 30),
                             path="/Dimona/Form/DimonaOut"), **form_changes)
    decision = decide(out, rules, Register(EMPLOYER, [named] if named else [], named), TODAY)
    assert expected in codes(decision) and decision.status == "B"


def test_update_and_cancel(rules):
    ref = EmployerRef(company_id=EMPLOYER.company_id)
    same = decide(DimonaForm(UPDATE, ref, period_id=7, start=date(2026, 1, 1), path="/Dimona/Form/DimonaUpdate"),
                  rules, Register(EMPLOYER, [period()], period()), TODAY)
    assert codes(same) == ["90378-444"]
    moved = decide(DimonaForm(UPDATE, ref, period_id=7, start=date(2026, 2, 1), path="/Dimona/Form/DimonaUpdate"),
                   rules, Register(EMPLOYER, [period()], period()), TODAY)
    assert moved.status == "A" and moved.period.start == date(2026, 2, 1)
    clash = decide(DimonaForm(UPDATE, ref, period_id=7, start=date(2025, 6, 1), path="/Dimona/Form/DimonaUpdate"),
                   rules, Register(EMPLOYER, [period(), period(id=3, start=date(2025, 5, 1), end=date(2025, 7, 1), status=CLOSED)], period()), TODAY)
    assert "90378-334" in codes(clash)
    cancel = decide(DimonaForm(CANCEL, ref, period_id=7, path="/Dimona/Form/DimonaCancel"),
                    rules, Register(EMPLOYER, [period()], period()), TODAY)
    assert cancel.status == "A" and cancel.period.status == CANCELLED
    again = decide(DimonaForm(CANCEL, ref, period_id=7, path="/Dimona/Form/DimonaCancel"),
                   rules, Register(EMPLOYER, [cancel.period], cancel.period), TODAY)
    assert codes(again) == ["00913-355"]


def test_status_of():
    reference = load_reference()
    g = reference.dimona.glossary
    assert status_of([]) == "A"
    assert status_of([g.anomaly("90373-460")]) == "W"
    assert status_of([g.anomaly("90373-460"), g.anomaly("00024-003")]) == "B"
