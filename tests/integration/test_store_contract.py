"""One contract, run against every storage adapter: the in-memory fakes the service tests use
(tests/fakes/), SQLite and PostgreSQL over a real connection. What only SQL has (migrations,
bulk inserts inside a transaction) runs on the two SQL stores."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import date

import pytest

from crossroads.adapters.sql.migrate import _statements, available, current_version, migrate
from crossroads.adapters.sql.store import open_store
from crossroads.domain.audit import AuditRecord
from crossroads.domain.directory import OPEN_END, Holding, Phase
from crossroads.domain.errors import Refusal
from crossroads.domain.operators import Operator, Role
from crossroads.domain.periods import Period
from crossroads.domain.registry import (
    Application,
    Authorization,
    Capacity,
    Institution,
    IntegrationRight,
    Service,
)
from crossroads.services.ports import ChangedMeanwhile, Expected, IntegrationChange

from ..conftest import drop_postgres_database, fresh_postgres_database
from ..fakes import MemoryStore

pytestmark = pytest.mark.anyio
NR = "0403170701"
FUND = "0411905847"
KEY = bytes(range(16))


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def store(request, tmp_path):
    if request.param == "memory":
        yield MemoryStore()
        return
    url = (
        f"sqlite:///{tmp_path / 'store.sqlite3'}"
        if request.param == "sqlite"
        else fresh_postgres_database()
    )
    opened = await open_store(url)
    yield opened
    await opened.close()
    if request.param == "postgres":
        drop_postgres_database(url)


@pytest.fixture
async def sql_store(store_url):
    opened = await open_store(store_url)
    yield opened
    await opened.close()


async def test_migrations_are_recorded_and_idempotent(sql_store):
    store = sql_store
    newest = available(store.db.dialect)[-1][0]
    assert await current_version(store.db) == newest
    assert await migrate(store.db) == []


async def test_registry_round_trip(store):
    registry = store.registry
    assert await registry.put_institution(Institution(NR, "National Register", "GOV", "http://nr"))
    assert not await registry.put_institution(
        Institution(NR, "National Register (renamed)", "GOV", "http://nr")
    )
    assert (await registry.get_institution(NR)).name == "National Register (renamed)"
    await registry.put_institution(Institution(FUND, "Fund"))
    app = Application(FUND, "app", "App", {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "abc"}]})
    await registry.put_application(app)
    assert await registry.get_application(FUND, "app") == app
    await registry.put_capacity(Capacity("INSURED", "Insured"))
    for version in ("1", "2", "10"):
        await registry.put_service(
            Service("person.identity", version, "Identity", ("name",), provider=NR)
        )
    assert (await registry.get_service("person.identity")).version == "10"
    assert (await registry.get_service("person.identity", "2")).version == "2"
    auth = Authorization(
        "ISC/24/1",
        FUND,
        "person.identity",
        "CARE",
        "law",
        ("INSURED",),
        ("name",),
        date(2024, 1, 1),
    )
    await registry.put_authorization(auth)
    assert await registry.find_authorizations(FUND, "person.identity", "CARE") == [auth]
    assert await registry.find_authorizations(FUND, "person.identity", "OTHER") == []
    with pytest.raises(Refusal) as refused:
        await registry.delete("institution", (NR,))
    assert refused.value.code == "conflict"
    assert await registry.delete("authorization", ("ISC/24/1",))
    assert not await registry.delete("authorization", ("ISC/24/1",))


async def test_the_registry_keeps_each_entrys_texts_in_other_languages(store):
    """Migrations 0030 and 0032: names, descriptions and legal bases (an authorization's, an
    integration right's) in nl/fr/de, read back as put, and replaced (not merged) when the entry
    is put again."""
    registry = store.registry
    await registry.put_institution(Institution(NR, "National Register"))
    await registry.put_institution(Institution(FUND, "Fund"))
    names = {"nl": "Verzekerd", "fr": "Assuré", "de": "Versichert"}
    await registry.put_capacity(Capacity("INSURED", "Insured", names))
    assert await registry.list_capacities() == [Capacity("INSURED", "Insured", names)]
    service = Service(
        "person.identity",
        "1",
        "Identity",
        ("name",),
        provider=NR,
        description="From the national register.",
        name_translations={"nl": "Identiteit", "de": "Identität"},
        description_translations={"fr": "Du Registre national."},
    )
    await registry.put_service(service)
    assert await registry.get_service("person.identity", "1") == service
    auth = Authorization(
        "ISC/24/2",
        FUND,
        "person.identity",
        "CARE",
        "Law of 15 January 1990",
        ("INSURED",),
        ("name",),
        date(2024, 1, 1),
        legal_basis_translations={"nl": "Wet van 15 januari 1990"},
    )
    await registry.put_authorization(auth)
    assert await registry.get_authorization("ISC/24/2") == auth
    await registry.put_capacity(Capacity("INSURED", "Insured", {"fr": "Assuré"}))
    assert (await registry.list_capacities())[0].name_translations == {"fr": "Assuré"}
    right = IntegrationRight(
        FUND,
        "INSURED",
        "Coordinated law of 14 July 1994",
        {"nl": "Wet gecoördineerd op 14 juli 1994", "fr": "Loi coordonnée le 14 juillet 1994"},
    )
    await registry.put_integration_right(right)
    assert await registry.list_integration_rights(FUND) == [right]
    assert await registry.list_integration_rights() == [right]
    await registry.put_integration_right(IntegrationRight(FUND, "INSURED", "Coordinated law"))
    assert (await registry.list_integration_rights(FUND))[0].legal_basis_translations == {}


async def test_an_institution_keeps_the_peer_it_is_a_member_of(store):
    """A member of a peer hub is recorded with that peer's instance, one of this hub's own with
    none; putting it again moves it (docs/federation.md, "What a pin trusts")."""
    registry = store.registry
    await registry.put_institution(Institution(NR, "National Register"))
    await registry.put_institution(Institution(FUND, "Fund of A", peer="A"))
    assert (await registry.get_institution(NR)).peer is None
    assert (await registry.get_institution(FUND)).peer == "A"
    await registry.put_institution(Institution(FUND, "Fund of A", peer="C"))
    assert [(i.enterprise_number, i.peer) for i in await registry.list_institutions()] == [
        (NR, None),
        (FUND, "C"),
    ]
    await registry.put_institution(Institution(FUND, "Fund"))
    assert (await registry.get_institution(FUND)).peer is None


async def _store_before(store_url: str, version: int):
    """A store whose schema stops before migration `version` (as one made by an earlier release),
    and every migration of its dialect; the caller closes the store."""
    store = await open_store(store_url, run_migrations=False)
    every = available(store.db.dialect)
    await current_version(store.db)
    async with store.db.transaction() as tx:
        for number, name, sql in (m for m in every if m[0] < version):
            for statement in _statements(sql):
                await tx.execute(statement)
            await tx.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (?, ?)", (number, name)
            )
    return store, every


async def test_an_upgraded_store_records_no_institution_as_a_peers(store_url):
    """Schema 26: the institutions registered before it are this hub's own (no peer), so no peer
    is answered for any of them until the operator records which are its members."""
    store, every = await _store_before(store_url, 26)
    db = store.db
    try:
        async with db.transaction() as tx:
            await tx.execute(
                "INSERT INTO institutions (enterprise_number, name, member_class)"
                " VALUES (?, 'Fund', 'GOV')",
                (FUND,),
            )
        assert await migrate(db) == [name for number, name, _ in every if number >= 26]
        assert (await store.registry.get_institution(FUND)).peer is None
    finally:
        await store.close()


async def test_an_upgraded_store_keeps_each_project_s_budget_spent_by_all_its_applications(
    store_url,
):
    """Schema 28: the privacy budget is the analyst institution's per project, no longer each
    application's; what each application spent is carried over, summed, so that no project gets
    its budget back by the upgrade."""
    store, _ = await _store_before(store_url, 28)
    db = store.db
    try:
        async with db.transaction() as tx:
            for analyst, project, spent, at in (
                (f"{FUND}:a", "P1", 600_000, 5),
                (f"{FUND}:b", "P1", 900_000, 7),
                (f"{FUND}:a", "P2", 100_000, 3),
                (f"{NR}:a", "P1", 200_000, 4),
            ):
                await tx.execute(
                    "INSERT INTO privacy_budgets (analyst, project, spent, updated_at_ms)"
                    " VALUES (?, ?, ?, ?)",
                    (analyst, project, spent, at),
                )
        await migrate(db)
        budgets = store.privacy_budgets
        assert await budgets.spent(FUND, "P1") == 1_500_000
        assert await budgets.spent(FUND, "P2") == 100_000
        assert await budgets.spent(NR, "P1") == 200_000
        assert await budgets.spent(f"{FUND}:a", "P1") == 0  # no row keyed by application left
    finally:
        await store.close()


def integrate(start, end=None, capacity="INSURED", phase=Phase.DEFINITIVE, institution=FUND):
    return IntegrationChange("integrate", KEY, institution, capacity, phase, Period(start, end))


async def test_lookups_asked_together_answer_each_pair_alone(store):
    """Concurrent `held_by` calls may share one read (PostgreSQL): a subject held by both
    institutions, another held by only the first, and a pair nobody holds each get their own
    answer, never a row of another pair asked alongside."""
    other_fund, second_key = "0200000538", bytes(range(1, 17))
    await store.directory.apply(
        [
            integrate(date(2020, 1, 1)),
            integrate(date(2021, 1, 1), capacity="JOB_SEEKER", institution=other_fund),
            IntegrationChange(
                "integrate", second_key, FUND, "INSURED", Phase.DEFINITIVE, Period(date(2019, 1, 1))
            ),
        ]
    )
    asked = [(KEY, FUND), (KEY, other_fund), (second_key, FUND), (second_key, other_fund)]
    answers = await asyncio.gather(*(store.directory.held_by(k, i) for k, i in asked))
    assert [{(i.subject_key, i.institution, i.capacity) for i in a} for a in answers] == [
        {(KEY, FUND, "INSURED")},
        {(KEY, other_fund, "JOB_SEEKER")},
        {(second_key, FUND, "INSURED")},
        set(),
    ]
    [alone] = [await store.directory.held_by(second_key, FUND)]
    assert [i.period for i in alone] == [Period(date(2019, 1, 1))]


async def test_directory_merges_overlapping_and_adjacent_periods(store):
    await store.directory.apply(
        [
            integrate(date(2020, 1, 1), date(2020, 6, 30)),
            integrate(date(2020, 7, 1), date(2020, 12, 31)),
            integrate(date(2022, 1, 1), date(2022, 3, 31)),
        ]
    )
    periods = sorted(i.period for i in await store.directory.held_by(KEY, FUND))
    assert periods == [
        Period(date(2020, 1, 1), date(2020, 12, 31)),
        Period(date(2022, 1, 1), date(2022, 3, 31)),
    ]
    await store.directory.apply([integrate(date(2020, 6, 1), date(2022, 1, 15))])
    assert [i.period for i in await store.directory.held_by(KEY, FUND)] == [
        Period(date(2020, 1, 1), date(2022, 3, 31))
    ]


async def test_directory_phases_do_not_merge_and_end_and_remove(store):
    await store.directory.apply(
        [
            integrate(date(2020, 1, 1)),
            integrate(date(2021, 1, 1), phase=Phase.PROVISIONAL),
            integrate(date(2020, 1, 1), capacity="JOB_SEEKER"),
        ]
    )
    assert len(await store.directory.held_by(KEY, FUND)) == 3
    await store.directory.apply(
        [IntegrationChange("end", KEY, FUND, "INSURED", end=date(2021, 6, 30))]
    )
    insured = sorted(
        (i.phase.value, i.period)
        for i in await store.directory.held_by(KEY, FUND)
        if i.capacity == "INSURED"
    )
    assert insured == [
        ("definitive", Period(date(2020, 1, 1), date(2021, 6, 30))),
        ("provisional", Period(date(2021, 1, 1), date(2021, 6, 30))),
    ]
    await store.directory.apply(
        [
            IntegrationChange(
                "remove", KEY, FUND, "INSURED", period=Period(date(2020, 3, 1), date(2020, 3, 31))
            )
        ]
    )
    definitive = sorted(
        i.period
        for i in await store.directory.held_by(KEY, FUND)
        if i.phase == Phase.DEFINITIVE and i.capacity == "INSURED"
    )
    assert definitive == [
        Period(date(2020, 1, 1), date(2020, 2, 29)),
        Period(date(2020, 4, 1), date(2021, 6, 30)),
    ]
    await store.directory.apply([IntegrationChange("remove", KEY, FUND, "INSURED")])
    assert {i.capacity for i in await store.directory.held_by(KEY, FUND)} == {"JOB_SEEKER"}
    assert [i.institution for i in await store.directory.holders(KEY, "JOB_SEEKER")] == [FUND]
    assert await store.directory.holders(bytes(16)) == []


async def test_directory_apply_names_the_ends_and_removals_that_found_nothing_held(store):
    other = "0200000999"
    ended = IntegrationChange("end", KEY, FUND, "INSURED", end=date(2021, 6, 30))
    unheld = await store.directory.apply(
        [
            ended,  # 0: nothing held yet
            integrate(date(2020, 1, 1)),  # 1
            ended,  # 2: held since 1
            ended,  # 3: ended already, still held up to its end: done again
            IntegrationChange("remove", KEY, other, "INSURED"),  # 4: another institution's
            IntegrationChange("end", KEY, FUND, "JOB_SEEKER", end=date(2021, 6, 30)),  # 5
            IntegrationChange("remove", KEY, FUND, "INSURED"),  # 6
            IntegrationChange("remove", KEY, FUND, "INSURED"),  # 7: removed by 6
        ]
    )
    assert unheld == [0, 4, 5, 7]
    assert await store.directory.held_by(KEY, FUND) == []
    assert await store.directory.apply([integrate(date(2020, 1, 1))]) == []


async def test_directory_batch_is_atomic(store):
    bad = IntegrationChange(
        "integrate", KEY, FUND, "INSURED", Phase.DEFINITIVE, None
    )  # no period: fails
    with pytest.raises(ValueError, match="an integration needs a period"):
        await store.directory.apply([integrate(date(2020, 1, 1)), bad])
    assert await store.directory.held_by(KEY, FUND) == []


async def test_directory_bulk_batch_round_trips_every_row(store):
    # Enough rows for PostgreSQL to take its bulk path (COPY); SQLite inserts them as any batch.
    keys = [n.to_bytes(16, "big") for n in range(1, 1601)]
    changes = [
        IntegrationChange(
            "integrate",
            key,
            FUND,
            "INSURED",
            Phase.DEFINITIVE if n % 3 else Phase.PROVISIONAL,
            Period(date(2020, 1, 1 + n % 28), None if n % 2 else date(2024, 12, 31)),
        )
        for n, key in enumerate(keys)
    ]
    changes.append(integrate(date(2021, 1, 1), date(2021, 12, 31), capacity="JOB_SEEKER"))
    await store.directory.apply(changes)
    assert await store.directory.count() == len(changes)
    for n in (0, 1, 2, 999, 1599):
        [held] = await store.directory.held_by(keys[n], FUND)
        assert (held.subject_key, held.capacity, held.phase, held.period) == (
            keys[n],
            "INSURED",
            changes[n].phase,
            changes[n].period,
        )
    assert [i.period for i in await store.directory.held_by(KEY, FUND)] == [
        Period(date(2021, 1, 1), date(2021, 12, 31))
    ]
    # Many persons' holders at once (over several queries) are each person's holders.
    wanted = [*keys[:1200], KEY, b"\x00" * 16, keys[5]]
    many = await store.directory.holders_of(wanted)
    assert set(many) == set(keys[:1200]) | {KEY}
    for key in (keys[0], keys[700], keys[1199], KEY):
        assert sorted(many[key]) == sorted(
            Holding.of(i) for i in await store.directory.holders(key)
        )
    # A provisional closed period and a definitive open one, as publishing reads them.
    assert many[keys[0]] == [
        Holding(
            FUND, "INSURED", False, date(2020, 1, 1).toordinal(), date(2024, 12, 31).toordinal()
        )
    ]
    assert many[keys[1]] == [Holding(FUND, "INSURED", True, date(2020, 1, 2).toordinal(), OPEN_END)]


async def test_concurrent_held_by_reads_answer_as_one_read_each(store):
    # Over PostgreSQL concurrent reads share a round trip (adapters/sql/coalesce.py); the answers
    # must be each read's own: the right person, the right institution, nothing of the others'.
    keys = [n.to_bytes(16, "big") for n in range(1, 41)]
    other = "0206731645"
    await store.directory.apply(
        [
            IntegrationChange(
                "integrate",
                key,
                FUND if n % 2 else other,
                "INSURED",
                Phase.DEFINITIVE,
                Period(date(2020, 1, 1 + n % 28), None),
            )
            for n, key in enumerate(keys)
        ]
        + [
            IntegrationChange(
                "integrate",
                keys[0],
                FUND,
                "JOB_SEEKER",
                Phase.DEFINITIVE,
                Period(date(2021, 1, 1), None),
            )
        ]
    )
    asks = [(key, institution) for key in keys for institution in (FUND, other)] + [
        (b"\x01" * 16, FUND)
    ]
    together = await asyncio.gather(
        *(store.directory.held_by(key, institution) for key, institution in asks)
    )
    one_by_one = [await store.directory.held_by(key, institution) for key, institution in asks]
    assert [sorted(map(repr, r)) for r in together] == [sorted(map(repr, r)) for r in one_by_one]
    assert all(
        i.subject_key == key and i.institution == institution
        for (key, institution), found in zip(asks, together, strict=True)
        for i in found
    )
    assert sum(map(len, together)) == len(keys) + 1


async def test_a_bulk_insert_rolls_back_with_its_transaction(sql_store):
    store = sql_store
    rows = [(n.to_bytes(16, "big"), FUND, "INSURED", 2, 737000 + n, None) for n in range(1, 1501)]
    columns = ("subject_key", "institution", "capacity", "phase", "valid_from", "valid_to")
    with pytest.raises(RuntimeError):
        async with store.db.transaction() as tx:
            await tx.insert_rows("integrations", columns, rows)
            raise RuntimeError("the batch fails after its bulk insert")
    assert await store.directory.count() == 0
    async with store.db.transaction() as tx:  # the connection is usable afterwards
        await tx.insert_rows("integrations", columns, rows)
    assert await store.directory.count() == 1500


async def test_audit_appends_concurrently_in_one_total_order(store):
    records = [
        AuditRecord(
            kind="exchange", at_ms=i, outcome="ok", request_id=str(i), subject_hash=KEY.hex()
        )
        for i in range(300)
    ]
    seqs = await asyncio.gather(*(store.audit.append(r) for r in records))
    assert len(set(seqs)) == 300
    entries = await store.audit.read(0, 1000)
    assert [s for s, _ in entries] == sorted(s for s, _ in entries)
    by_seq = dict(entries)
    for seq, record in zip(seqs, records, strict=True):
        assert AuditRecord.from_canonical(by_seq[seq]) == record
    assert await store.audit.count() == 300


async def test_audit_appends_of_several_records_are_committed_together_numbered_in_their_order(
    store,
):
    def records(tag: str, count: int) -> list[AuditRecord]:
        return [
            AuditRecord(kind="mutation", at_ms=i, outcome="ok", target=f"{tag}-{i}")
            for i in range(count)
        ]

    groups = [
        records("a", 1500),
        records("b", 1),
        records("c", 700),
        [],
    ]  # together past one commit's batch
    singles = records("s", 50)
    results = await asyncio.gather(
        *(store.audit.append_many(g) for g in groups), *(store.audit.append(r) for r in singles)
    )
    many, lone = results[: len(groups)], results[len(groups) :]
    assert [len(seqs) for seqs in many] == [1500, 1, 700, 0]
    assert len({s for seqs in many for s in seqs} | set(lone)) == 2251
    by_seq = dict(await store.audit.read(0, 5000))
    for group, seqs in zip(groups, many, strict=True):
        assert [AuditRecord.from_canonical(by_seq[s]) for s in seqs] == group
        assert seqs == sorted(seqs)
    assert [AuditRecord.from_canonical(by_seq[s]) for s in lone] == singles


async def test_replay_guard_accepts_once(store):
    assert await store.replay.first_use("client|jti-1", 2**40)
    assert not await store.replay.first_use("client|jti-1", 2**40)
    assert await store.replay.first_use("client|jti-2", 2**40)


async def test_the_highest_version_is_the_domains_order_of_versions(store):
    await store.registry.put_institution(Institution(NR, "National Register"))
    for version in ("1.9", "1.a", "1.10", "1.2"):
        await store.registry.put_service(
            Service("person.identity", version, "Identity", ("name",), provider=NR)
        )
    assert (await store.registry.get_service("person.identity")).version == "1.10"
    assert await store.registry.get_service("person.unknown") is None


async def test_a_credential_epoch_changes_when_an_application_is_disabled_and_stays_changed(store):
    registry = store.registry
    await registry.put_institution(Institution(FUND, "Fund"))
    app = Application(FUND, "app", "App")
    assert await registry.credential_epoch(FUND, "app") is None
    await registry.put_application(app)
    first = await registry.credential_epoch(FUND, "app")
    assert first is not None
    await registry.put_application(Application(FUND, "app", "App (renamed)"))
    assert await registry.credential_epoch(FUND, "app") == first
    await registry.put_application(Application(FUND, "app", "App", active=False))
    assert await registry.credential_epoch(FUND, "app") is None
    await registry.put_application(app)
    assert await registry.credential_epoch(FUND, "app") not in (None, first)


async def test_an_institution_deleted_takes_its_applications_with_it(store):
    registry = store.registry
    await registry.put_institution(Institution(FUND, "Fund"))
    await registry.put_application(Application(FUND, "app", "App"))
    await registry.put_capacity(Capacity("INSURED", "Insured"))
    assert await registry.delete("institution", (FUND,))
    assert await registry.list_applications(FUND) == []
    assert await registry.credential_epoch(FUND, "app") is None
    assert not await registry.delete("institution", (FUND,))
    assert await registry.delete("capacity", ("INSURED",))


async def test_a_conditional_put_writes_only_over_the_entry_it_expects(store):
    """Four eyes writes what it checked only over the entry it checked it against: any other
    (changed, added or removed since) is `ChangedMeanwhile`, and nothing is written."""
    registry = store.registry
    member = Institution(FUND, "Fund")
    with pytest.raises(ChangedMeanwhile):  # expected some member: there is none
        await registry.put_institution(member, Expected(Institution(FUND, "Other")))
    assert await registry.get_institution(FUND) is None
    assert await registry.put_institution(member, Expected(None))
    with pytest.raises(ChangedMeanwhile):  # expected none: one was added
        await registry.put_institution(Institution(FUND, "Again"), Expected(None))
    renamed = Institution(FUND, "Fund (renamed)")
    with pytest.raises(ChangedMeanwhile):
        await registry.put_institution(renamed, Expected(Institution(FUND, "Stale")))
    assert await registry.get_institution(FUND) == member
    assert not await registry.put_institution(renamed, Expected(member))
    assert await registry.get_institution(FUND) == renamed

    key = {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "abc"}]}
    app = Application(FUND, "app", "App", key)
    assert await registry.put_application(app, Expected(None))
    epoch = await registry.credential_epoch(FUND, "app")
    disabled = Application(FUND, "app", "App", key, active=False)
    await registry.put_application(disabled)  # meanwhile, at once
    more_keys = {"keys": [*key["keys"], {"kty": "OKP", "crv": "Ed25519", "x": "def"}]}
    with pytest.raises(ChangedMeanwhile):  # approving a key checked against the enabled one
        await registry.put_application(Application(FUND, "app", "App", more_keys), Expected(app))
    assert await registry.get_application(FUND, "app") == disabled
    assert await registry.credential_epoch(FUND, "app") is None
    with pytest.raises(ChangedMeanwhile):
        await registry.put_application(app, Expected(None))
    assert await registry.put_application(app, Expected(disabled)) is False
    assert await registry.credential_epoch(FUND, "app") not in (None, epoch)

    await registry.put_institution(Institution(NR, "National Register"))
    service = Service("person.identity", "1", "Identity", ("name",), provider=NR)
    assert await registry.put_service(service, Expected(None))
    rerouted = Service("person.identity", "1", "Identity", ("name",), provider=FUND)
    with pytest.raises(ChangedMeanwhile):
        await registry.put_service(rerouted, Expected(None))
    with pytest.raises(ChangedMeanwhile):
        await registry.put_service(rerouted, Expected(replace(service, name="Stale")))
    assert await registry.get_service("person.identity", "1") == service
    assert not await registry.put_service(rerouted, Expected(service))
    assert (await registry.get_service("person.identity", "1")).provider == FUND
    # A new version is compared with the code's highest, whose requests it takes: it is written
    # only while that one is as it was (not rerouted meanwhile) and the version is still new.
    second = Service("person.identity", "2", "Identity", ("name",), provider=FUND)
    with pytest.raises(ChangedMeanwhile):  # the highest was rerouted since
        await registry.put_service(second, Expected(service))
    with pytest.raises(ChangedMeanwhile):  # the code has a version: not "none"
        await registry.put_service(second, Expected(None))
    assert await registry.get_service("person.identity", "2") is None
    assert await registry.put_service(second, Expected(rerouted))
    with pytest.raises(ChangedMeanwhile):  # now recorded: compared with itself
        await registry.put_service(replace(second, name="Again"), Expected(rerouted))


async def test_a_conditional_put_of_an_operator_writes_only_over_the_one_it_expects(sql_store):
    operators = sql_store.operators
    alice = Operator("person:alice", (Role.READ_ONLY,))
    assert await operators.put_operator(alice, Expected(None))
    epoch = await operators.operator_epoch(alice.id)
    with pytest.raises(ChangedMeanwhile):
        await operators.put_operator(alice, Expected(None))
    admin = Operator("person:alice", (Role.ADMIN,))
    disabled = replace(alice, active=False)
    await operators.put_operator(disabled)  # meanwhile, at once
    with pytest.raises(ChangedMeanwhile):  # a role approved against the active account
        await operators.put_operator(admin, Expected(alice))
    assert await operators.get_operator(alice.id) == disabled
    assert await operators.operator_epoch(alice.id) is None
    assert not await operators.put_operator(replace(admin, active=False), Expected(disabled))
    assert (await operators.get_operator(alice.id)).roles == (Role.ADMIN,)
    assert epoch is not None
