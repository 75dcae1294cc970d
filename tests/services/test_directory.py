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


@pytest.mark.parametrize(
    "change",
    [
        line("end", end="2025-03-31"),
        line("remove"),
        line("remove", start="2024-01-01", end="2024-12-31"),
        line("end", capacity="HEALTH_INSURED", end="2025-03-31"),  # a capacity it never holds
    ],
    ids=["end", "remove", "remove-a-period", "end-another-capacity"],
)
async def test_ending_or_removing_what_the_institution_does_not_hold_is_refused_not_logged_done(
    rights, change
):
    world = rights
    # The fund holds the person; the welfare centre does not.
    await world.store.registry.put_integration_right(
        IntegrationRight(FUND, "SOCIAL_ASSISTANCE", "law")
    )
    await world.directory.change(line(institution=FUND, start="2024-01-01"), FUND, "fund-app")
    with pytest.raises(Refusal) as refused:
        await world.directory.change(change, WELFARE, "case-app")
    assert (refused.value.code, refused.value.field) == ("not_found", "subject")
    probe = world.records("directory")[-1]
    # The person's page reads the log: the probe is there as a refusal, never as a change made.
    assert (probe.outcome, probe.action, probe.consumer) == (
        "not_found",
        "directory.change",
        WELFARE,
    )
    assert [r.action for r in world.records("directory") if r.outcome == "ok"] == [
        "directory.integrate"
    ]
    fund = await world.store.directory.held_by(world.hasher.key(PERSON), FUND)
    assert [i.period for i in fund] == [Period(date(2024, 1, 1))]


async def test_ending_an_entry_already_ended_is_done_again_not_refused(rights):
    """An integrator retrying an end it sent before (its answer lost) is told it is done."""
    world = rights
    await world.directory.change(line(start="2024-01-01"), WELFARE, "case-app")
    for _ in range(2):
        await world.directory.change(line("end", end="2025-03-31"), WELFARE, "case-app")
    assert await held(world) == [("definitive", Period(date(2024, 1, 1), date(2025, 3, 31)))]


async def test_a_bulk_import_reports_ends_of_entries_not_held_by_line_across_blocks(rights):
    world = rights
    lines = [
        line(subject=STRANGER, start="2024-01-01"),  # 1
        line("end", end="2025-01-31"),  # 2: not held
        line(start="2024-01-01"),  # 3
        line("end", end="2025-01-31"),  # 4: held since line 3, in the same block
        line("remove", subject=STRANGER),  # 5
        line("remove", subject=STRANGER),  # 6: removed by line 5
        line("capacity-typo", capacity="NOPE"),  # 7: refused when parsed
    ]
    report = await world.directory.import_lines(lines, None, "operator", chunk_size=3)
    shown = report.as_dict()
    assert [(e["line"], e["code"]) for e in shown["errors"]] == [
        (2, "not_found"),
        (6, "not_found"),
        (7, "malformed_request"),
    ], shown
    assert (shown["lines"], shown["applied"], shown["rejected"]) == (7, 4, 3)
    assert await held(world) == [("definitive", Period(date(2024, 1, 1), date(2025, 1, 31)))]
    chunks = [r.detail for r in world.records("directory") if r.action == "directory.import"]
    assert sum(c["changes"] for c in chunks) == 4
    assert sum(c["refused"] for c in chunks) == 3
