"""The reference directory's use cases (services/directory.py) on the fakes: integrating within
the registry's rights, ending and removing, each change audited, a bulk file line by line."""

from __future__ import annotations

from datetime import date

import pytest

from crossroads.domain.directory import Phase
from crossroads.domain.errors import Refusal
from crossroads.domain.periods import Period
from crossroads.domain.registry import Capacity, Institution, IntegrationRight

from .conftest import FUND, PERSON, STRANGER, TODAY, WELFARE

pytestmark = pytest.mark.anyio


@pytest.fixture
async def rights(world):
    registry = world.store.registry
    for number, name in ((WELFARE, "Welfare centre"), (FUND, "Fund")):
        await registry.put_institution(Institution(number, name))
    for code in ("SOCIAL_ASSISTANCE", "HEALTH_INSURED"):
        await registry.put_capacity(Capacity(code, code))
    await registry.put_integration_right(IntegrationRight(WELFARE, "SOCIAL_ASSISTANCE", "law"))
    return world


def line(op: str = "integrate", **fields) -> dict:
    return {
        "op": op,
        "subject": PERSON,
        "institution": WELFARE,
        "capacity": "SOCIAL_ASSISTANCE",
        **fields,
    }


async def held(world) -> list[tuple[str, Period]]:
    found = await world.store.directory.held_by(world.hasher.key(PERSON), WELFARE)
    return sorted((i.phase.value, i.period) for i in found)


async def test_integrations_merge_end_and_are_audited_under_the_persons_hash(rights):
    world = rights
    await world.directory.change(line(start="2024-01-01", end="2024-06-30"), WELFARE, "case-app")
    await world.directory.change(line(start="2024-07-01"), WELFARE, "case-app")
    assert await held(world) == [("definitive", Period(date(2024, 1, 1)))]
    await world.directory.change(line("end", end="2025-03-31"), WELFARE, "case-app")
    assert await held(world) == [("definitive", Period(date(2024, 1, 1), date(2025, 3, 31)))]
    records = world.records("directory")
    assert [r.action for r in records] == ["directory.integrate"] * 2 + ["directory.end"]
    assert {r.subject_hash for r in records} == {world.hasher.hex(PERSON)}
    assert {r.actor for r in records} == {"case-app"}  # who made each change
    assert PERSON not in b"".join(world.store.audit.entries).decode()


async def test_a_capacity_outside_the_rights_is_refused_and_the_probe_audited(rights):
    world = rights
    with pytest.raises(Refusal) as refused:
        await world.directory.change(
            line(capacity="HEALTH_INSURED", start="2024-01-01"), WELFARE, "case-app"
        )
    assert refused.value.code == "no_integration_right"
    [record] = world.records("directory")
    assert (record.outcome, record.consumer, record.actor) == (
        "no_integration_right",
        WELFARE,
        "case-app",
    )
    assert await world.store.directory.count() == 0


async def test_a_provisional_integration_runs_for_the_settings_days_from_today(rights):
    world = rights
    await world.directory.change(
        line(phase="provisional", start=TODAY.isoformat()), WELFARE, "case-app"
    )
    [(phase, period)] = await held(world)
    assert phase == Phase.PROVISIONAL.value
    assert period.start == TODAY and (period.end - TODAY).days == 30


async def test_a_bulk_import_applies_the_good_lines_and_reports_the_others_by_number(rights):
    world = rights
    report = await world.directory.import_lines(
        [
            line(start="2024-01-01"),
            line(subject="123", start="2024-01-01"),
            line(subject=STRANGER, start="2024-02-01"),
            line(capacity="HEALTH_INSURED", start="2024-01-01"),
        ],
        None,
        "operator",
    )
    shown = report.as_dict()
    assert shown["applied"] == 2, shown
    assert [e["line"] for e in shown["errors"]] == [2, 4]
    assert await world.store.directory.count() == 2
