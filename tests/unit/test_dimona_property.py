"""Property: for random sequences of DIMONA forms, an accepted form always satisfies the rules,
a refused one always carries a blocking anomaly, and the periods never overlap."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from hypothesis import event, given, settings, strategies as st

from crossroads.adapters.be_reference import load_reference
from crossroads.domain.declarations.dimona import CANCEL, CANCELLED, IN, OTHER_SECTORS, OUT, UPDATE, DimonaForm, DimonaRules, Register, decide
from crossroads.domain.declarations.employers import Employer, EmployerRef
from crossroads.domain.declarations.codelists import quarter_of
from crossroads.domain.identifiers import scheme_for

TODAY = date(2026, 12, 1)
KNOWN = Employer("0403448140", "1000097", "Acme")
INACTIVE = Employer("0202239951", None, "Gone", active=False)
WORKERS = ["85073100130", "90020100229", "85073100131"]  # the last fails its check digits
REFERENCE = load_reference()


_normalise = scheme_for("BE").person_or_none


RULES = DimonaRules(REFERENCE.dimona.glossary, REFERENCE.joint_committees, _normalise, late_tolerance_days=3)
REGISTER = {KNOWN.company_id: KNOWN, INACTIVE.company_id: INACTIVE}

days = st.integers(min_value=-60, max_value=30).map(lambda n: TODAY + timedelta(days=n))
forms = st.fixed_dictionaries({
    "kind": st.sampled_from([IN, IN, IN, OUT, UPDATE, CANCEL]),
    "employer": st.sampled_from([KNOWN.company_id] * 6 + [INACTIVE.company_id, "0999999936", None]),
    "inss": st.sampled_from(WORKERS[:2] * 4 + WORKERS[2:] + [None]),
    "period": st.integers(min_value=1, max_value=3),
    "start": days, "omit_inss": st.booleans(), "length": st.one_of(st.none(), st.integers(min_value=-3, max_value=40)),
    "worker_type": st.sampled_from(["OTH"] * 5 + ["STU", None]),
    "joint_committee": st.sampled_from(["XXX"] * 4 + ["124", "999", None]),
    "planned_hours": st.sampled_from([None] * 5 + [20]),
})


def as_form(f: dict) -> DimonaForm:
    end = None if f["length"] is None else f["start"] + timedelta(days=f["length"])
    ref = EmployerRef(company_id=f["employer"]) if f["employer"] else EmployerRef()
    if f["kind"] == IN:
        return DimonaForm(IN, ref, f["inss"], None, f["start"], None, end, None, f["worker_type"], f["joint_committee"],
                          f["planned_hours"], "/Dimona/Form/DimonaIn")
    inss = None if f["omit_inss"] else f["inss"]  # OUT, update and cancel may leave the INSS out
    if f["kind"] == OUT:
        return DimonaForm(OUT, ref, inss, f["period"], end=end or f["start"], path="/Dimona/Form/DimonaOut")
    if f["kind"] == UPDATE:
        return DimonaForm(UPDATE, ref, inss, f["period"], start=f["start"], end=end, path="/Dimona/Form/DimonaUpdate")
    return DimonaForm(CANCEL, ref, inss, f["period"], path="/Dimona/Form/DimonaCancel")


@settings(max_examples=300, deadline=None)
@given(st.lists(forms, min_size=1, max_size=25))
def test_accepted_forms_keep_the_rules_and_refusals_say_why(raw_forms):
    periods = {}  # id -> period: what the store would hold
    for raw in raw_forms:
        form = as_form(raw)
        employer = REGISTER.get(form.employer.company_id) if form.employer.company_id else None
        named = periods.get(form.period_id) if form.period_id else None
        inss = _normalise(form.inss) if form.inss else (named.inss if named else None)
        mine = [p for p in periods.values() if employer and p.employer == employer.company_id and p.inss == inss]
        decision = decide(form, RULES, Register(employer, mine, named), TODAY)
        event(f"{form.kind} {decision.status}")
        if decision.status == "B":
            assert any(a.blocking for a in decision.anomalies)
            assert decision.period is None
            continue
        assert all(not a.blocking for a in decision.anomalies)
        assert employer is not None and employer.active
        period = decision.period
        if form.kind == IN:
            assert _normalise(form.inss) is not None and form.worker_type is not None
            assert form.joint_committee == OTHER_SECTORS or REFERENCE.joint_committees.valid(form.joint_committee, quarter_of(form.start))
            assert (form.planned_hours is not None) == (form.worker_type == "STU")
            period = replace(period, id=len(periods) + 1)
        else:
            assert named is not None and named.employer == employer.company_id and named.status != CANCELLED
            if form.kind == OUT:
                assert named.end is None
        assert period.end is None or period.end >= period.start
        periods[period.id] = period
        live = [p for p in periods.values() if p.status != CANCELLED]
        for a in live:
            for b in live:
                if a.id < b.id and (a.employer, a.inss, a.worker_type) == (b.employer, b.inss, b.worker_type):
                    assert not a.overlaps(b.start, b.end), f"{a} overlaps {b}"
