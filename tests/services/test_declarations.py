"""Employer declarations (services/declarations.py) through their service, on the fakes: a DIMONA
IN accepted and its mutation put in the outbox, a payroll office without a mandate refused and
audited once, an OUT closing the period, and a DmfA of an employer nobody registered refused."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from crossroads.adapters.be_reference import load_reference
from crossroads.adapters.official_forms import XmlOfficialForms
from crossroads.demo.dmfa_file import WorkerLineSpec, dmfa_xml
from crossroads.domain.callers import Caller
from crossroads.domain.declarations.dimona import DimonaRules
from crossroads.domain.declarations.dmfa import DmfaRules
from crossroads.domain.errors import Refusal
from crossroads.services.declarations import DeclarationService

from .conftest import PERSON, TODAY

pytestmark = pytest.mark.anyio
EMPLOYER, NOSS = "0123456749", "1234567"
UNKNOWN_EMPLOYER, UNKNOWN_NOSS = "0765432146", "7654321"
PAYROLL = Caller("0555555523", "payroll-app")  # a payroll office
STRANGER_OFFICE = Caller("0222222248", "payroll-app")  # an office with no mandate


@pytest.fixture
async def service(world) -> DeclarationService:
    """The declarations service over the fake store, with the official Belgian reference; one
    employer, for which PAYROLL holds a mandate since 2020."""
    reference, scheme = load_reference(), world.scheme
    declarations = DeclarationService(
        world.store.declarations,
        XmlOfficialForms(reference, 1 << 20),
        DimonaRules(
            reference.dimona.glossary,
            reference.joint_committees,
            scheme.person_or_none,
            3,
            scheme.enterprise_is_valid,
        ),
        DmfaRules(
            reference.dmfa.glossary,
            reference.joint_committees,
            reference.remuneration,
            reference.working_time,
            reference.worker_codes,
            reference.rates,
            scheme.person_or_none,
        ),
        world.store.audit,
        world.clock,
        scheme,
        world.hasher,
    )
    await declarations.put_employer(EMPLOYER, NOSS, "Bakery Dupont", True)
    await declarations.put_mandate(PAYROLL.institution or "", EMPLOYER, date(2020, 1, 1), None)
    return declarations


def dimona_in(start: date, employer: str = EMPLOYER) -> dict:
    return {
        "DimonaIn": {
            "StartingDate": start.isoformat(),
            "EmployerId": {"CompanyID": employer},
            "NaturalPerson": {"INSS": PERSON},
            "DimonaFeatures": {"WorkerType": "OTH", "JointCommissionNbr": "XXX"},
        }
    }


async def test_a_dimona_in_is_accepted_and_its_employment_started_event_recorded(world, service):
    declared = await service.submit_dimona(PAYROLL, dimona_in(TODAY), "en")
    assert (declared.kind, declared.form, declared.status, declared.anomalies) == (
        "dimona",
        "DimonaIn",
        "A",
        [],
    )
    [period] = await world.store.declarations.periods_of(PERSON)
    assert (period.id, period.employer, period.start, period.end, period.status) == (
        declared.period_id,
        EMPLOYER,
        TODAY,
        None,
        "open",
    )
    [event] = await world.store.declarations.pending_events(10)
    assert (event.mutation_type, event.subject, event.effective_date) == (
        "employment.started",
        PERSON,
        TODAY.isoformat(),
    )
    assert event.mutation_id == f"declaration-{declared.id}-0"
    assert event.payload["declaration_id"] == declared.id
    [audited] = world.records("declaration")
    assert (audited.outcome, audited.action, audited.consumer, audited.target) == (
        "ok",
        "dimona.DimonaIn",
        PAYROLL.institution,
        str(declared.id),
    )
    assert audited.subject_hash == world.hasher.hex(PERSON)


async def test_an_office_without_mandate_is_refused_no_mandate_and_audited_once(world, service):
    with pytest.raises(Refusal) as refused:
        await service.submit_dimona(STRANGER_OFFICE, dimona_in(TODAY), "en")
    assert refused.value.code == "no_mandate"
    [audited] = world.records("declaration")  # exactly one record of the refusal
    assert (audited.outcome, audited.consumer, audited.target) == (
        "no_mandate",
        STRANGER_OFFICE.institution,
        EMPLOYER,
    )
    assert await world.store.declarations.periods_of(PERSON) == []
    assert await world.store.declarations.pending_events(10) == []


async def test_an_out_closes_the_period_and_a_second_out_is_refused(world, service):
    started = await service.submit_dimona(PAYROLL, dimona_in(TODAY - timedelta(days=2)), "en")
    out = {
        "DimonaOut": {
            "DimonaPeriodId": started.period_id,
            "EndingDate": TODAY.isoformat(),
            "EmployerId": {"CompanyID": EMPLOYER},
        }
    }
    ended = await service.submit_dimona(PAYROLL, out, "en")
    assert (ended.form, ended.status, ended.period_id) == ("DimonaOut", "A", started.period_id)
    [period] = await world.store.declarations.periods_of(PERSON)
    assert (period.end, period.status) == (TODAY, "closed")
    events = await world.store.declarations.pending_events(10)
    assert [(e.mutation_type, e.effective_date) for e in events] == [
        ("employment.started", (TODAY - timedelta(days=2)).isoformat()),
        ("employment.ended", TODAY.isoformat()),
    ]
    again = await service.submit_dimona(PAYROLL, out, "en")
    assert again.status == "B" and [a.code for a in again.anomalies] == ["00913-356"]
    assert len(await world.store.declarations.pending_events(10)) == 2  # nothing more to publish


async def test_a_dmfa_of_an_unknown_employer_is_refused_and_stores_no_wages(world, service):
    document = dmfa_xml(
        20261,
        UNKNOWN_NOSS,
        UNKNOWN_EMPLOYER,
        [WorkerLineSpec(PERSON)],
        service.dmfa_rates,
    )
    declared = await service.submit_dmfa(PAYROLL, document, "en")
    assert (declared.kind, declared.status, declared.employer) == ("dmfa", "B", None)
    assert "00014-235" in [a.code for a in declared.anomalies]  # no such employer registered
    assert await world.store.declarations.wages_of(PERSON) == []
    assert await world.store.declarations.pending_events(10) == []
    [audited] = world.records("declaration")
    assert audited.detail["status"] == "B"
