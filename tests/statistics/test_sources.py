"""The store's reader for the warehouse, one contract for both stores: every stream (DmfA wages,
DIMONA periods, social-risk declarations, exchanges, mutation deliveries, the directory, the
rights engine's decisions and their answers) is read
from SQLite (the sqlite3 module) and from PostgreSQL (ADBC's PostgreSQL driver, binary COPY)
into the same snapshot, value for value."""

from __future__ import annotations

import sqlite3

import duckdb
import orjson
import psycopg
import pytest

from crossroads.adapters.sql.arrow_reads import _inlined
from crossroads.adapters.sql.audit_file import audit_path
from crossroads.adapters.sql.store import open_store
from crossroads.adapters.warehouse.duckdb import DuckDbWarehouse
from crossroads.domain.audit import AuditRecord
from crossroads.domain.rights import CONFIRMED, REFUSED
from crossroads.domain.statistics.marts import MARTS

from ..conftest import POSTGRES_DSN, drop_postgres_database, fresh_postgres_database
from .data import AT_MS, FUND, add_exchanges, add_wages, decision, inss
from .test_warehouse import HASHER, extraction

_RISK = (
    "INSERT INTO declarations (kind, form, employer, declarant, status, inss, anomalies,"
    " summary, language, received_at_ms) VALUES ('social-risk', 'sickness', '0403170701',"
    " '0403170701', 'accepted', {mark}, '[]', '{{}}', 'en', {mark}) RETURNING id"
)
_EXCHANGE = "INSERT INTO audit_log (at_ms, record) VALUES ({mark}, {mark}) RETURNING seq"
# A rights decision as SqlRights stores one: its change number drawn as each store draws it.
_RIGHT = (
    "INSERT INTO rights_decisions (id, seq, subject_key, subject, right_code, change, competent,"
    " status, decided_at_ms, body, origin, age_group, changed) VALUES ({mark}, 0, {mark}, '',"
    " 'increased-reimbursement', 'granted', NULL, 'pending', {mark}, '{{}}', 'change', 'adult',"
    " {changed}) RETURNING changed"
)
_NEXT_CHANGE = {
    "%s": "nextval('rights_decisions_changed')",
    "?": "(SELECT COALESCE(MAX(changed), 0) + 1 FROM rights_decisions)",
}

pytestmark = pytest.mark.anyio
DAY = 86_400_000
SOURCE_MARTS = tuple(MARTS)


async def seed_every_stream(store) -> None:
    """A few records of every kind the warehouse reads, with the cases each reader must get
    right: a wage replaced by a later declaration, a DIMONA period declared then cancelled, an
    exchange without a person and a record of another kind, a delivery given up, one to an
    unknown subscription, and one still on its way (not read: it has no change yet); rights
    decisions, one answered after it was stored and one refused before the first read."""
    await add_wages(store, [(p, 20244, "015", "200", 300_000) for p in range(6)])
    await add_wages(store, [(0, 20244, "015", "200", 310_000), (7, 20251, "495", "118", 90_000)])
    async with store.db.transaction() as tx:
        for p, worker_type, committee in ((1, "OTH", "200"), (2, "STU", None)):
            [period] = await tx.fetchone(
                "INSERT INTO dimona_periods (employer, inss, worker_type, joint_committee,"
                " start_date, end_date, status) VALUES ('0403170701', ?, ?, ?, '2025-02-03',"
                " NULL, 'active') RETURNING id",
                (inss(p), worker_type, committee),
            )
            for status in ("accepted", "cancelled"):
                await tx.execute(
                    "INSERT INTO declarations (kind, form, employer, declarant, status,"
                    " period_id, inss, anomalies, summary, language, received_at_ms)"
                    " VALUES ('dimona', 'in', '0403170701', '0403170701', ?, ?, ?, '[]', '{}',"
                    " 'en', ?)",
                    (status, period, inss(p), AT_MS),
                )
        for p, form in ((3, "sickness"), (4, "unemployment")):
            await tx.execute(
                "INSERT INTO declarations (kind, form, employer, declarant, status, inss,"
                " anomalies, summary, language, received_at_ms) VALUES ('social-risk', ?,"
                " '0403170701', '0403170701', 'accepted', ?, '[]', '{}', 'en', ?)",
                (form, inss(p), AT_MS + 40 * DAY * p),
            )
    await add_exchanges(store, HASHER, list(range(5)))
    await add_exchanges(store, HASHER, [5], outcome="subject_not_in_directory")
    await store.audit.append_many(
        [
            AuditRecord(kind="exchange", at_ms=AT_MS, outcome="malformed_request"),
            AuditRecord(kind="admin", at_ms=AT_MS, outcome="ok", action="put"),
        ]
    )
    async with store.db.transaction() as tx:
        await tx.execute(
            "INSERT INTO subscriptions (id, institution, application, mutation_type,"
            " authorization_ref, mode, created_at_ms) VALUES ('sub-1', '0411905847', 'app',"
            " 'address', 'A/1', 'pull', 0)"
        )
        for n, mutation_type in enumerate(("address", "death", "address", "address")):
            await tx.execute(
                "INSERT INTO mutations (publisher, id, mutation_type, version, subject_key,"
                " effective_day, digest, recipients, published_at_ms)"
                " VALUES ('nr', ?, ?, '1', ?, 1, ?, 1, ?)",
                (f"m{n}", mutation_type, HASHER.key(inss(n)), b"d", AT_MS + n * DAY),
            )
        seqs = []
        for n, subscription in enumerate(("sub-1", "sub-1", "gone", "sub-1")):
            [seq] = await tx.fetchone(
                "INSERT INTO deliveries (subscription, publisher, mutation_id, subject_key,"
                " message) VALUES (?, 'nr', ?, ?, ?) RETURNING seq",
                (subscription, f"m{n}", HASHER.key(inss(n)), b"{}"),
            )
            seqs.append(seq)
        for p, capacity, phase, since, until in (
            (0, "SOCIAL_ASSISTANCE", 2, 739_000, None),
            (0, "EMPLOYEE", 1, 738_000, 738_500),
            (6, "EMPLOYEE", 2, 739_300, None),
        ):
            await tx.execute(
                "INSERT INTO integrations (subject_key, institution, capacity, phase,"
                " valid_from, valid_to) VALUES (?, '0411905847', ?, ?, ?, ?)",
                (HASHER.key(inss(p)), capacity, phase, since, until),
            )
    # Settled as the hub settles them (each drawing its change); the last one is on its way.
    await store.mutations.delivered([seqs[0]], AT_MS + 5_000)
    await store.mutations.failed([seqs[1]], "gone", 0, AT_MS + DAY + 60_000)
    await store.mutations.delivered([seqs[2]], AT_MS + 3 * DAY)
    made = [decision(0, origin="non-take-up"), decision(1), decision(2), decision(3)]
    for one in made:
        await store.rights.add([one], HASHER.key(one.subject))
    assert await store.rights.answer(made[1].answered(CONFIRMED, FUND, None))
    assert await store.rights.answer(made[3].answered(REFUSED, FUND, "not insured"))


async def snapshot_of(store, tmp_path) -> dict[str, list[tuple]]:
    """Every mart of the snapshot an extraction of `store` writes, its rows in order."""
    await seed_every_stream(store)
    path = tmp_path / "w.duckdb"
    warehouse = DuckDbWarehouse(path)
    await extraction(store, warehouse, batch=3).run()
    await warehouse.close()
    folder = path.with_name("w.duckdb.marts")
    con = duckdb.connect(str(folder / (folder / "current").read_text()), read_only=True)
    try:
        return {name: con.execute(f"FROM mart_{name} ORDER BY ALL").fetchall() for name in MARTS}
    finally:
        con.close()


@pytest.fixture
async def store(store_url):
    opened = await open_store(store_url)
    yield opened
    await opened.close()


async def test_every_stream_is_read_into_its_mart(store, tmp_path):
    marts = await snapshot_of(store, tmp_path)
    employment = marts["employment"]
    assert len(employment) == 7  # six people, then one replaced and one more
    assert sorted(r[4] for r in employment)[-2:] == [300_000, 310_000]  # the later one only
    assert [(r[1], r[2], r[3]) for r in employment if r[4] == 90_000] == [("2025Q1", "118", "495")]
    assert sorted(r[1:] for r in marts["jobs"]) == [
        ("2025Q1", "OTH", "200", "active", 1),
        ("2025Q1", "STU", "-", "active", 1),
    ]
    assert sorted(r[1:] for r in marts["social_risks"]) == [
        ("2025Q2", "sickness", "accepted", 1),
        ("2025Q2", "unemployment", "accepted", 1),
    ]
    exchanges = marts["exchanges"]
    assert len(exchanges) == 7  # the admin record is not an exchange
    assert sorted(r[5] for r in exchanges) == [
        "malformed_request",
        *["ok"] * 5,
        "subject_not_in_directory",
    ]
    assert any(r[0].startswith("exchange:") for r in exchanges)  # no person: a unit of its own
    assert sorted(r[1:6] for r in marts["deliveries"]) == [
        ("2025-01", "address", "-", "acknowledged", DAY),
        ("2025-01", "address", "0411905847", "acknowledged", 5_000),
        ("2025-01", "death", "0411905847", "given up", 60_000),
    ]
    assert sorted(r[1:5] for r in marts["directory"]) == [
        ("EMPLOYEE", "0411905847", "2021", "provisional"),
        ("EMPLOYEE", "0411905847", "2025", "definitive"),
        ("SOCIAL_ASSISTANCE", "0411905847", "2024", "definitive"),
    ]
    # The same person under one pseudonym in every mart, and no identifier in clear.
    dump = orjson.dumps({k: [list(map(str, r)) for r in v] for k, v in marts.items()}).decode()
    for p in range(8):
        assert inss(p) not in dump and HASHER.hex(inss(p)) not in dump
    # Each decision once, as it stands after its answer (a change read after the decision).
    assert sorted(r[1:] for r in marts["rights"]) == [
        ("2025Q1", "increased-reimbursement", "granted", "change", "confirmed", "adult", 1),
        ("2025Q1", "increased-reimbursement", "granted", "change", "pending", "child", 1),
        ("2025Q1", "increased-reimbursement", "granted", "change", "refused", "adult", 1),
        ("2025Q1", "increased-reimbursement", "granted", "non-take-up", "pending", "adult", 1),
    ]
    people = {name: {r[0] for r in rows} for name, rows in marts.items()}
    assert people["directory"] & people["employment"] & people["exchanges"] & people["rights"]


async def test_sqlite_and_postgresql_give_the_same_snapshot(tmp_path):
    lite = await open_store(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    url = fresh_postgres_database()
    try:
        pg = await open_store(url)
        try:
            (tmp_path / "a").mkdir()
            (tmp_path / "b").mkdir()
            from_sqlite = await snapshot_of(lite, tmp_path / "a")
            from_postgres = await snapshot_of(pg, tmp_path / "b")
        finally:
            await pg.close()
    finally:
        await lite.close()
        drop_postgres_database(url)
    assert all(from_sqlite[name] for name in SOURCE_MARTS)  # every mart holds rows
    assert from_postgres == from_sqlite


def test_postgresql_reads_inline_integers_only():
    assert _inlined("a > ? AND b <= ? LIMIT ?", (1, -2, 3)) == "a > 1 AND b <= -2 LIMIT 3"
    for wrong in (("1; DROP TABLE x",), (True,), (1.5,)):
        with pytest.raises(TypeError):
            _inlined("a > ?", wrong)
    with pytest.raises(ValueError):
        _inlined("a > ? AND b > ?", (1,))


def _exchange(person: int) -> bytes:
    return AuditRecord(
        kind="exchange",
        at_ms=AT_MS,
        outcome="ok",
        consumer="0411905847",
        service="identity",
        purpose="benefits",
        subject_hash=HASHER.hex(inss(person)),
    ).canonical()


def _write(conn, mark: str, person: int) -> tuple[int, int, int]:
    """A social-risk declaration, an exchange and a rights decision about `person`,
    uncommitted: (id, seq, changed)."""
    [declaration] = conn.execute(_RISK.format(mark=mark), (inss(person), AT_MS)).fetchone()
    [seq] = conn.execute(_EXCHANGE.format(mark=mark), (AT_MS, _exchange(person))).fetchone()
    [changed] = conn.execute(
        _RIGHT.format(mark=mark, changed=_NEXT_CHANGE[mark]),
        (decision(person).id, HASHER.key(inss(person)), AT_MS),
    ).fetchone()
    return declaration, seq, changed


async def test_a_row_that_commits_after_a_later_numbered_one_was_read_comes_next(
    store, store_url, tmp_path
):
    """A declaration id or audit sequence number is drawn at insert, not at commit: the rows of
    a transaction still open when an extraction reads a later-numbered committed row must come
    in the next extraction, not be left behind. On PostgreSQL two connections write at once;
    SQLite lets no second writer in while the first is open, so no such gap can arise there."""
    warehouse = DuckDbWarehouse(tmp_path / "w.duckdb")
    if store_url.startswith("sqlite"):
        path = store_url.removeprefix("sqlite:///")
        first = sqlite3.connect(path, isolation_level=None)
        first.execute("ATTACH DATABASE ? AS audit", (audit_path(path),))  # the audit log's file
        first.execute("BEGIN IMMEDIATE")
        _write(first, "?", 1)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            sqlite3.connect(path, timeout=0, isolation_level=None).execute(
                _RISK.format(mark="?"), (inss(2), AT_MS)
            )
        first.execute("COMMIT")
        first.close()
        done = await extraction(store, warehouse).run()
        assert (done.records["declarations"], done.records["exchanges"]) == (1, 1)
        assert done.records["rights"] == 1
        await warehouse.close()
        return
    first = psycopg.connect(store_url)
    later = psycopg.connect(store_url)
    # A transaction of another database, older than both, holds nothing back: it cannot write
    # this store's tables.
    elsewhere = psycopg.connect(POSTGRES_DSN)
    try:
        elsewhere.execute("SELECT pg_current_xact_id()")
        # The later writer's transaction begins first, then the first one draws the lower
        # numbers, the later one the higher ones and commits; the first stays open.
        later.execute("SELECT pg_current_xact_id()")
        low = _write(first, "%s", 1)
        high = _write(later, "%s", 2)
        later.commit()
        assert high > low
        meanwhile = await extraction(store, warehouse).run()
        assert (meanwhile.records["declarations"], meanwhile.records["exchanges"]) == (1, 1)
        assert meanwhile.records["rights"] == 1
        assert meanwhile.positions == {
            "declarations": high[0],
            "exchanges": high[1],
            "deliveries": 0,
            "rights": high[2],
        }
        first.commit()
        after = await extraction(store, warehouse).run()
        assert (after.records["declarations"], after.records["exchanges"]) == (1, 1)
        assert after.records["rights"] == 1
        again = await extraction(store, warehouse).run()
        assert (again.records["declarations"], again.records["exchanges"]) == (0, 0)
        assert again.records["rights"] == 0
        # An answer is a change of its own, in commit order too: to a decision read already,
        # committed while an older transaction of this database is still open, it waits for
        # that one, then comes (and the mart counts the decision once, as answered).
        first.execute(_RISK.format(mark="%s"), (inss(3), AT_MS))
        assert await store.rights.answer(decision(2).answered(CONFIRMED, FUND, None))
        held = await extraction(store, warehouse).run()
        assert (held.records["declarations"], held.records["rights"]) == (0, 0)
        first.commit()
        answered = await extraction(store, warehouse).run()
        assert (answered.records["declarations"], answered.records["rights"]) == (1, 1)
    finally:
        first.close()
        later.close()
        elsewhere.close()
    folder = tmp_path / "w.duckdb.marts"
    await warehouse.close()
    con = duckdb.connect(str(folder / (folder / "current").read_text()), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM mart_social_risks").fetchone() == (3,)
        assert con.execute("SELECT count(*) FROM mart_exchanges").fetchone() == (2,)
        assert con.execute("SELECT status FROM mart_rights ORDER BY ALL").fetchall() == [
            ("confirmed",),
            ("pending",),
        ]
    finally:
        con.close()
