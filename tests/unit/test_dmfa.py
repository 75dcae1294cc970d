"""The DmfA's checks: code lists, the DIMONA cross-check, and the recomputed contributions."""

from __future__ import annotations

from datetime import date

import pytest

from crossroads.adapters.be_reference import load_reference
from crossroads.adapters.official_forms import XmlOfficialForms
from crossroads.demo.dmfa_file import WorkerLineSpec, dmfa_xml
from crossroads.domain.declarations import dmfa
from crossroads.domain.declarations.dimona import CANCELLED, CLOSED, OPEN, DimonaPeriod
from crossroads.domain.declarations.employers import Employer
from crossroads.domain.identifiers import scheme_for

EMPLOYER = Employer("0403448140", "1000097", "Acme")
ANNA, BERT = "85073100130", "90020100229"
QUARTER = 20263  # July - September 2026
TODAY = date(2026, 12, 1)


_normalise = scheme_for("BE").person_or_none


@pytest.fixture(scope="module")
def reference():
    return load_reference()


@pytest.fixture(scope="module")
def rules(reference) -> dmfa.DmfaRules:
    return dmfa.DmfaRules(reference.dmfa.glossary, reference.joint_committees, reference.remuneration,
                          reference.working_time, reference.worker_codes, reference.rates, _normalise)


def period(inss: str, start=date(2026, 1, 1), end=None, status=OPEN) -> DimonaPeriod:
    return DimonaPeriod(1, EMPLOYER.company_id, inss, "OTH", "XXX", start, end, status)


def read(reference, workers, **kwargs) -> dmfa.DmfaDeclaration:
    declaration, anomalies = XmlOfficialForms(reference, 10**8).read_dmfa(
        dmfa_xml(QUARTER, EMPLOYER.noss, EMPLOYER.company_id, workers, reference.rates, **kwargs))
    assert anomalies == []
    return declaration


def codes(anomalies) -> list[str]:
    return sorted(a.code for a in anomalies)


def test_a_correct_declaration_has_no_anomaly_and_sums_each_worker(reference, rules):
    declaration = read(reference, [WorkerLineSpec(ANNA), WorkerLineSpec(BERT, worker_code="015", gross_cents=500_000)])
    anomalies, summaries = dmfa.check(declaration, rules, EMPLOYER, {ANNA: [period(ANNA)], BERT: [period(BERT)]}, TODAY)
    assert anomalies == []
    assert [(s.inss, s.worker_code, s.gross, s.days) for s in summaries] == [(ANNA, "495", 900_000, 65), (BERT, "015", 500_000, 65)]


def test_a_worker_without_dimona_period_in_the_quarter_is_an_anomaly(reference, rules):
    declaration = read(reference, [WorkerLineSpec(ANNA), WorkerLineSpec(BERT)])
    periods = {ANNA: [period(ANNA, end=date(2026, 6, 30), status=CLOSED)], BERT: [period(BERT, status=CANCELLED)]}
    anomalies, _ = dmfa.check(declaration, rules, EMPLOYER, periods, TODAY)
    assert codes(anomalies) == ["90015-485", "90015-485"]
    assert {a.severity for a in anomalies} == {"NP"}
    assert anomalies[0].path.endswith("NaturalPerson[1]/WorkerRecord[1]/Occupation[1]")


def test_a_wrong_contribution_and_a_wrong_total_are_found(reference, rules):
    declaration = read(reference, [WorkerLineSpec(ANNA), WorkerLineSpec(BERT)], contribution_error_for=frozenset({BERT}))
    anomalies, _ = dmfa.check(declaration, rules, EMPLOYER, {ANNA: [period(ANNA)], BERT: [period(BERT)]}, TODAY)
    assert codes(anomalies) == ["00085-044"]  # the total matches the declared (wrong) lines
    off = read(reference, [WorkerLineSpec(ANNA)], net_owed_delta=500)
    anomalies, _ = dmfa.check(off, rules, EMPLOYER, {ANNA: [period(ANNA)]}, TODAY)
    assert codes(anomalies) == ["00015-007"] and anomalies[0].severity == "B"


def test_code_lists_and_identifiers_are_checked(reference, rules):
    declaration = read(reference, [WorkerLineSpec(ANNA, worker_code="999", joint_committee="998"), WorkerLineSpec("85073100131")])
    anomalies, summaries = dmfa.check(declaration, rules, EMPLOYER, {ANNA: [period(ANNA)]}, TODAY)
    assert codes(anomalies) == ["00024-004", "00037-008", "00046-003"]
    assert [s.inss for s in summaries] == [ANNA]


def test_an_unknown_employer(reference, rules):
    anomalies, _ = dmfa.check(read(reference, [WorkerLineSpec(ANNA)]), rules, None, {}, TODAY)
    assert codes(anomalies) == ["00014-235"]


def test_the_rate_table_recomputes_with_the_manual_workers_uplift(reference):
    rates = reference.rates
    assert rates.expected("015", [dmfa.Remuneration("1", 100_000)]) == (108_000, round(108_000 * rates.rates["015"]))
    assert rates.expected("495", [dmfa.Remuneration("1", 100_000), dmfa.Remuneration("51", 5_000)]) == (
        100_000, round(100_000 * rates.rates["495"]))


def test_a_quarter_that_has_not_begun_is_refused_even_the_last_one_the_schema_allows(reference, rules):
    declaration = read(reference, [WorkerLineSpec(ANNA)])
    anomalies, _ = dmfa.check(declaration, rules, EMPLOYER, {ANNA: [period(ANNA)]}, date(2026, 6, 30))
    assert codes(anomalies) == ["00013-008"]
    future = dmfa.DmfaDeclaration(99994, declaration.noss, declaration.company_id, declaration.net_owed,
                                  declaration.unrelated_amounts, declaration.workers, declaration.path)
    assert "00013-008" in codes(dmfa.check(future, rules, EMPLOYER, {}, TODAY)[0])


def test_quarter_bounds_hold_to_the_last_day_a_date_can_name():
    from crossroads.domain.declarations.codelists import quarter_bounds
    assert quarter_bounds(99994) == (date(9999, 10, 1), date(9999, 12, 31))
    assert quarter_bounds(20241) == (date(2024, 1, 1), date(2024, 3, 31))
    with pytest.raises(ValueError):
        quarter_bounds(20245)
