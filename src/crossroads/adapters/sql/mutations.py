"""Mutation types, subscriptions, accepted mutations and the outbox, over SQL (both dialects).

Each change of a delivery's state once it was queued (acknowledged, delivered, dead, replayed,
dropped) draws a new change number (migration 0025, `settling`): the statistics warehouse reads
the deliveries by their changes (statistics_source.py), so a dead letter replayed or dropped
after it was extracted comes again with its new state.
"""

from __future__ import annotations

import json

from ...domain.mutations import Mutation, MutationType, Subscription
from ...domain.versions import version_key
from ...services.ports import Delivery, MutationStore, PushHead
from .among import among
from .arrival_bells import NOTIFY_PULLED, PROCESS
from .database import Database, Row, Transaction

_TYPE_COLUMNS = (
    "code, version, name, publisher, payload_schema, description, fields, state_path, translations"
)
_SUBSCRIPTION_COLUMNS = (
    "id, institution, application, mutation_type, authorization_ref, mode, webhook_url,"
    " created_at_ms"
)
_DELIVERY_COLUMNS = (
    "d.seq, d.subscription, d.publisher, d.mutation_id, d.subject_key, d.message, d.attempts,"
    " d.last_error, d.dead_at_ms"
)
_MUTATIONS_PER_INSERT = (
    3000  # 9 values each: under SQLite's 32,766 and PostgreSQL's 65,535 parameters
)
_MUTATION_COLUMNS = (
    "publisher, id, mutation_type, version, subject_key, effective_day, digest, recipients,"
    " published_at_ms"
)
# PostgreSQL: arrays as binary parameters (%b), unnested in their order: a statement of fixed
# text (psycopg parses a statement of more than 50 parameters anew at every call: 40-70 ms of the
# hub's CPU for 3,000 rows, against 4-7 ms so), and the rows inserted in publishing order.
_PG_MUTATIONS = (
    f"INSERT INTO mutations ({_MUTATION_COLUMNS})"
    " SELECT p, i, t, v, k, e, g, r, a FROM unnest(%b::text[], %b::text[], %b::text[],"
    " %b::text[], %b::bytea[], %b::int4[], %b::bytea[], %b::int4[], %b::int8[])"
    " WITH ORDINALITY AS u(p, i, t, v, k, e, g, r, a, n) ORDER BY n"
    " ON CONFLICT DO NOTHING RETURNING publisher, id"
)
_PG_DELIVERIES = (
    "INSERT INTO deliveries (subscription, publisher, mutation_id, subject_key, message)"
    " SELECT s, p, i, k, m FROM unnest(%b::text[], %b::text[], %b::text[], %b::bytea[],"
    " %b::bytea[]) WITH ORDINALITY AS u(s, p, i, k, m, n) ORDER BY n"
)
_Item = tuple[Mutation, bytes, list[tuple[str, bytes]]]
# Along deliveries_due (migration 0036), which holds neither delivered rows nor dead letters.
# Public for the test that counts what it reads.
SQLITE_DUE = (
    f"SELECT {_DELIVERY_COLUMNS}, d.next_attempt_ms FROM deliveries d"
    " WHERE d.subscription = ? AND d.acked_at_ms IS NULL AND d.dead_at_ms IS NULL"
    " AND d.seq > ? ORDER BY d.seq LIMIT ?"
)
# Each push subscription's next delivery: one probe of deliveries_due per subscription, which
# holds no dead letters (migration 0036 on SQLite), so a member's dead letters cost nothing here.
# /ready and /metrics read it. Public for the test that counts what it reads.
HEADS = (
    "SELECT s.id, d.seq, d.attempts FROM subscriptions s JOIN deliveries d ON d.seq = ("
    " SELECT min(w.seq) FROM deliveries w WHERE w.subscription = s.id"
    " AND w.acked_at_ms IS NULL AND w.dead_at_ms IS NULL)"
    " WHERE s.mode = 'push' ORDER BY d.seq"
)
# The dead letters not yet closed, oldest first (migration 0037): of every subscription along
# deliveries_dead_by_seq; of an institution's subscriptions along deliveries_dead_of, where
# SQLite stops each subscription's walk once its ordered, limited sort is full. Public for the
# tests that count what they read and check their plans.
DEAD_LETTERS = (
    f"SELECT {_DELIVERY_COLUMNS} FROM deliveries d WHERE d.dead_at_ms IS NOT NULL"
    " AND d.acked_at_ms IS NULL AND d.seq > ? ORDER BY d.seq LIMIT ?"
)
# Along the same indexes of the dead letters alone: a count of them, not of the outbox.
COUNT_DEAD_LETTERS = (
    "SELECT count(*) FROM deliveries d WHERE d.dead_at_ms IS NOT NULL AND d.acked_at_ms IS NULL"
)
COUNT_DEAD_LETTERS_OF = (
    f"{COUNT_DEAD_LETTERS} AND d.subscription IN"
    " (SELECT s.id FROM subscriptions s WHERE s.institution = ?)"
)
DEAD_LETTERS_OF = (
    f"SELECT {_DELIVERY_COLUMNS} FROM deliveries d WHERE d.dead_at_ms IS NOT NULL"
    " AND d.acked_at_ms IS NULL AND d.seq > ? AND d.subscription IN"
    " (SELECT s.id FROM subscriptions s WHERE s.institution = ?) ORDER BY d.seq LIMIT ?"
)
# PostgreSQL: the first `limit` of each subscription of the institution, then the first `limit`
# of those, as pg_mailbox reads a mailbox. With `subscription = ?` or `IN`, the planner (once it
# had statistics) walked every member's dead letters in number order to keep the institution's;
# a one-element `= ANY` keeps the subscription in the order, which only deliveries_dead_of gives.
PG_DEAD_LETTERS_OF = (
    f"SELECT {_DELIVERY_COLUMNS} FROM subscriptions s CROSS JOIN LATERAL ("
    " SELECT w.* FROM deliveries w WHERE w.subscription = ANY(ARRAY[s.id])"
    " AND w.dead_at_ms IS NOT NULL AND w.acked_at_ms IS NULL AND w.seq > ?"
    " ORDER BY w.subscription, w.seq LIMIT ?) d"
    " WHERE s.institution = ? ORDER BY d.seq LIMIT ?"
)
# Written so that PostgreSQL's one fitting plan walks `deliveries_due` (migration 0022) and stops
# after the batch, whatever its statistics say. With `subscription = ?` the order is by seq alone,
# and the planner chose between reading the subscription's whole backlog and sorting it (an outbox
# not analysed yet: 214-236 ms per batch of 1,000 with 27,000 waiting, the read growing with the
# backlog) and walking the primary key through every delivered row first (statistics, which take
# the waiting rows to be spread evenly where a queue has them all at its end). A one-element
# `= ANY` keeps the subscription in the order, which only that index gives. Public for the test
# that checks the plan.
PG_DUE = (
    f"SELECT {_DELIVERY_COLUMNS}, d.next_attempt_ms FROM deliveries d"
    " WHERE d.subscription = ANY(%b::text[]) AND d.acked_at_ms IS NULL"
    " AND d.dead_at_ms IS NULL AND d.seq > ? ORDER BY d.subscription, d.seq LIMIT ?"
)
# The digests of a batch's ids already used, each id looked up by the whole primary key. Written
# `publisher = ? AND id = ANY(…)`, a plan made without statistics (a table that grew from empty,
# never analysed) took the publisher's part of the key for the index condition and the ids for a
# filter: every mutation of the publisher read for each batch (EXPLAIN ANALYZE at 766,000: 263 ms
# a batch of 1,000; `pg_stat_statements` over a million mutations: 83 ms a call on average, a
# third of a core). A plain join with the ids fares no better: without statistics, below a few
# hundred thousand rows, the planner hashes the whole table (the index's random reads costed as a
# disk's). Each id is looked up in a subquery of its own, which its LIMIT keeps from being
# flattened into a join: the one fitting plan probes the whole key, once an id, whatever the
# statistics say (the key is unique, so the LIMIT drops nothing). Public for the test that
# checks the plan.
PG_DIGESTS = (
    "SELECT w.id, m.digest FROM unnest(%b::text[]) AS w(id) CROSS JOIN LATERAL"
    " (SELECT digest FROM mutations WHERE publisher = ? AND id = w.id LIMIT 1) m"
)
_IN_BATCH = 500  # values per … IN (…): under SQLite's and psycopg's parameter limits
# Outbox numbers a relay's read covers per statement (`_pushes_in_windows`); public for the
# tests, which make it small.
FEED_WINDOW = 20_000
_OUTBOX_LOCK = (
    0x43524F53_4F420001  # "CROSOB" + 1: the advisory lock publications into the outbox take in turn
)


def settling(dialect: str, assignments: str, condition: str, returning: str = "") -> str:
    """`UPDATE deliveries SET assignments WHERE condition`, drawing each row it changes a new
    change number. PostgreSQL: from a sequence, with the transaction that made the change (the
    extraction reads them in commit order, commit_order.py). SQLite: the highest number plus
    the row's rank in the statement, numbered before the first row changes, under the one
    writer (a plain `MAX + 1` would give every row of the statement the same number). Public
    for the test that checks its plans."""
    if dialect == "postgres":
        return (
            f"UPDATE deliveries SET {assignments}, changed = nextval('deliveries_changed'),"
            f" xact_id = pg_current_xact_id() WHERE {condition}{returning}"
        )
    return (
        f"UPDATE deliveries SET {assignments}, changed = o.base + o.n FROM (SELECT seq AS s,"
        " row_number() OVER (ORDER BY seq) AS n, (SELECT COALESCE(MAX(changed), 0)"
        " FROM deliveries WHERE changed IS NOT NULL) AS base"
        f" FROM deliveries WHERE {condition}) o WHERE deliveries.seq = o.s{returning}"
    )


def pg_mailbox(
    institution: str,
    application: str,
    after: int,
    limit: int,
    mutation_type: str | None,
    mutation_id: str | None,
) -> tuple[str, tuple]:
    """A mailbox's page on PostgreSQL: the first `limit` waiting deliveries of each of the
    application's pull subscriptions (one a mutation type), each walked along deliveries_due as
    PG_DUE walks it, then the first `limit` of those in seq order, which are the page's. Joined the
    plain way, without statistics, the planner walked deliveries_due for every subscription's
    waiting rows after `after`, kept the application's and sorted them: a page read all the
    outbox's backlog, every member's (EXPLAIN ANALYZE: 25,000 rows for a page of 1,000). Public
    for the test that checks the plan."""
    inner, outer = "", ""
    inner_values: tuple = ()
    outer_values: tuple = ()
    if mutation_id is not None:
        inner, inner_values = " AND w.mutation_id = ?", (mutation_id,)
    if mutation_type is not None:
        outer, outer_values = " AND s.mutation_type = ?", (mutation_type,)
    return (
        f"SELECT {_DELIVERY_COLUMNS} FROM subscriptions s CROSS JOIN LATERAL ("
        " SELECT w.* FROM deliveries w WHERE w.subscription = ANY(ARRAY[s.id])"
        f" AND w.acked_at_ms IS NULL AND w.dead_at_ms IS NULL AND w.seq > ?{inner}"
        " ORDER BY w.subscription, w.seq LIMIT ?) d"
        f" WHERE s.institution = ? AND s.application = ? AND s.mode = 'pull'{outer}"
        " ORDER BY d.seq LIMIT ?",
        (after, *inner_values, limit, institution, application, *outer_values, limit),
    )


def _type(row: Row) -> MutationType:
    wordings = json.loads(row[8])  # migration 0030: {"name": {...}, "description": {...}}
    return MutationType(
        code=row[0],
        version=row[1],
        name=row[2],
        publisher=row[3],
        schema=json.loads(row[4]),
        description=row[5],
        fields=tuple(json.loads(row[6])),
        state_path=row[7],
        name_translations=wordings.get("name", {}),
        description_translations=wordings.get("description", {}),
    )


def _subscription(row: Row) -> Subscription:
    return Subscription(
        id=row[0],
        institution=row[1],
        application=row[2],
        mutation_type=row[3],
        authorization=row[4],
        mode=row[5],
        webhook_url=row[6],
        created_at_ms=row[7],
    )


def _delivery(row: Row) -> Delivery:
    return Delivery(
        seq=row[0],
        subscription=row[1],
        publisher=row[2],
        mutation_id=row[3],
        subject_key=bytes(row[4]),
        message=bytes(row[5]),
        attempts=row[6],
        last_error=row[7],
        dead_at_ms=row[8],
    )


class SqlMutations(MutationStore):
    def __init__(self, db: Database) -> None:
        self._db = db

    def _seqs(self, column: str, seqs: list[int]) -> list[tuple[str, list[int]]]:
        """`column` among the distinct `seqs`, in ascending order (see among.py)."""
        return among(self._db.dialect, column, sorted(set(seqs)), "int8")

    async def put_type(self, mutation_type: MutationType) -> bool:
        async with self._db.transaction() as tx:
            existed = await tx.fetchone(
                "SELECT 1 FROM mutation_types WHERE code = ? AND version = ?",
                (mutation_type.code, mutation_type.version),
            )
            values = (
                mutation_type.code,
                mutation_type.version,
                mutation_type.name,
                mutation_type.publisher,
                json.dumps(mutation_type.schema),
                mutation_type.description,
                json.dumps(list(mutation_type.fields)),
                mutation_type.state_path,
                json.dumps(
                    {
                        "name": mutation_type.name_translations,
                        "description": mutation_type.description_translations,
                    }
                ),
            )
            # An upsert, so that two concurrent puts of a new type do not both insert it.
            await tx.execute(
                f"INSERT INTO mutation_types ({_TYPE_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (code, version) DO UPDATE"
                " SET name = excluded.name, publisher = excluded.publisher,"
                " payload_schema = excluded.payload_schema, description = excluded.description,"
                " fields = excluded.fields, state_path = excluded.state_path,"
                " translations = excluded.translations",
                values,
            )
        return existed is None

    async def get_type(self, code: str, version: str | None = None) -> MutationType | None:
        if version is not None:
            row = await self._db.fetchone(
                f"SELECT {_TYPE_COLUMNS} FROM mutation_types WHERE code = ? AND version = ?",
                (code, version),
            )
            return _type(row) if row else None
        rows = await self._db.fetchall(
            f"SELECT {_TYPE_COLUMNS} FROM mutation_types WHERE code = ?", (code,)
        )
        return _type(max(rows, key=lambda r: version_key(r[1]))) if rows else None

    async def list_types(self) -> list[MutationType]:
        rows = await self._db.fetchall(
            f"SELECT {_TYPE_COLUMNS} FROM mutation_types ORDER BY code, version"
        )
        return [_type(r) for r in rows]

    async def delete_type(self, code: str) -> bool:
        async with self._db.transaction() as tx:
            return await tx.execute("DELETE FROM mutation_types WHERE code = ?", (code,)) > 0

    async def update_subscription(self, subscription: Subscription) -> bool:
        async with self._db.transaction() as tx:
            changed = await tx.execute(
                "UPDATE subscriptions SET authorization_ref = ?, webhook_url = ? WHERE id = ?",
                (subscription.authorization, subscription.webhook_url, subscription.id),
            )
        return changed == 1

    async def add_subscription(self, subscription: Subscription) -> bool:
        async with self._db.transaction() as tx:
            changed = await tx.execute(
                f"INSERT INTO subscriptions ({_SUBSCRIPTION_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (
                    subscription.id,
                    subscription.institution,
                    subscription.application,
                    subscription.mutation_type,
                    subscription.authorization,
                    subscription.mode,
                    subscription.webhook_url,
                    subscription.created_at_ms,
                ),
            )
        return changed == 1

    async def subscriptions(
        self,
        *,
        mutation_type: str | None = None,
        institution: str | None = None,
        application: str | None = None,
    ) -> list[Subscription]:
        wanted = {
            "mutation_type": mutation_type,
            "institution": institution,
            "application": application,
        }
        named = {k: v for k, v in wanted.items() if v is not None}
        where = " AND ".join(f"{k} = ?" for k in named) or "1 = 1"
        rows = await self._db.fetchall(
            f"SELECT {_SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE {where}"
            " ORDER BY created_at_ms, id",
            tuple(named.values()),
        )
        return [_subscription(r) for r in rows]

    async def delete_subscription(self, subscription_id: str) -> bool:
        async with self._db.transaction() as tx:
            # What was queued for it and not yet received goes with it: nobody can fetch it now.
            # Its waiting deliveries, then its dead letters, each along an index of its own
            # (deliveries_due, deliveries_dead_of): no index holds both (migrations 0034, 0037).
            for settled in ("dead_at_ms IS NULL", "dead_at_ms IS NOT NULL"):
                await tx.execute(
                    "DELETE FROM deliveries WHERE subscription = ? AND acked_at_ms IS NULL"
                    f" AND {settled}",
                    (subscription_id,),
                )
            return (
                await tx.execute("DELETE FROM subscriptions WHERE id = ?", (subscription_id,)) == 1
            )

    async def publish(
        self, mutation: Mutation, digest: bytes, deliveries: list[tuple[str, bytes]]
    ) -> bytes | None:
        [outcome] = await self.publish_many([(mutation, digest, deliveries)])
        return outcome

    async def publish_many(
        self, items: list[tuple[Mutation, bytes, list[tuple[str, bytes]]]]
    ) -> list[bytes | None]:
        async with self._db.transaction() as tx:
            return await publish_in(tx, self._db.dialect == "postgres", items)

    async def digests(self, publisher: str, ids: list[str]) -> dict[str, bytes]:
        if self._db.dialect == "postgres" and ids:
            rows = await self._db.fetchall(
                PG_DIGESTS,
                (sorted(set(ids)), publisher),
                fresh_plan=True,  # `mutations` grows from empty while the hub runs
            )
            return {row[0]: bytes(row[1]) for row in rows}
        found: dict[str, bytes] = {}
        for condition, values in among(self._db.dialect, "id", sorted(set(ids)), "text"):
            rows = await self._db.fetchall(
                f"SELECT id, digest FROM mutations WHERE publisher = ? AND {condition}",
                (publisher, *values),
                fresh_plan=True,  # `mutations` grows from empty while the hub runs
            )
            found.update({row[0]: bytes(row[1]) for row in rows})
        return found

    async def mailbox(
        self,
        institution: str,
        application: str,
        after: int,
        limit: int,
        *,
        mutation_type: str | None = None,
        mutation_id: str | None = None,
    ) -> list[Delivery]:
        if self._db.dialect == "postgres":
            rows = await self._db.fetchall(
                *pg_mailbox(institution, application, after, limit, mutation_type, mutation_id),
                fresh_plan=True,
            )
            return [_delivery(r) for r in rows]
        named = [
            (clause, value)
            for clause, value in (
                ("s.mutation_type = ?", mutation_type),
                ("d.mutation_id = ?", mutation_id),
            )
            if value is not None
        ]
        rows = await self._db.fetchall(
            f"SELECT {_DELIVERY_COLUMNS} FROM deliveries d JOIN subscriptions s"
            " ON s.id = d.subscription WHERE s.institution = ? AND s.application = ?"
            " AND s.mode = 'pull' AND d.acked_at_ms IS NULL AND d.dead_at_ms IS NULL"
            f" AND d.seq > ?{''.join(' AND ' + c for c, _ in named)} ORDER BY d.seq LIMIT ?",
            (institution, application, after, *[v for _, v in named], limit),
            fresh_plan=True,
        )
        return [_delivery(r) for r in rows]

    async def unacknowledged(
        self, institution: str, application: str, seqs: list[int]
    ) -> list[Delivery]:
        found: list[Delivery] = []
        for condition, group in self._seqs("d.seq", seqs):
            rows = await self._db.fetchall(
                f"SELECT {_DELIVERY_COLUMNS} FROM deliveries d JOIN subscriptions s"
                " ON s.id = d.subscription WHERE s.institution = ? AND s.application = ?"
                f" AND d.acked_at_ms IS NULL AND {condition} ORDER BY d.seq",
                (institution, application, *group),
                fresh_plan=True,
            )
            found += [_delivery(r) for r in rows]
        return found

    async def ack(self, institution: str, application: str, seqs: list[int], at_ms: int) -> int:
        # One UPDATE per group, counted by its rowcount: reading the rows back inside the write
        # transaction would take a step per row, each giving up the GIL while holding the lock.
        acked = 0
        async with self._db.transaction() as tx:
            for condition, group in self._seqs("seq", seqs):
                acked += await tx.execute(
                    settling(
                        self._db.dialect,
                        "acked_at_ms = ?",
                        f"{condition} AND acked_at_ms IS NULL AND subscription IN"
                        " (SELECT id FROM subscriptions WHERE institution = ? AND application = ?)",
                    ),
                    (at_ms, *group, institution, application),
                )
        return acked

    async def due_pushes(
        self, subscription: str, now_ms: int, limit: int, after: int = 0
    ) -> list[Delivery]:
        if self._db.dialect == "postgres":
            rows = await self._db.fetchall(PG_DUE, ([subscription], after, limit), fresh_plan=True)
        else:
            rows = await self._db.fetchall(SQLITE_DUE, (subscription, after, limit))
        if not rows or rows[0][-1] > now_ms:
            return []
        return [_delivery(r) for r in rows]

    async def delivered(self, seqs: list[int], at_ms: int) -> None:
        # A delivery pushed again (a redelivered stream message) keeps its first
        # acknowledgement and draws no change.
        async with self._db.transaction() as tx:
            for condition, group in self._seqs("seq", seqs):
                await tx.execute(
                    settling(
                        self._db.dialect, "acked_at_ms = ?", f"{condition} AND acked_at_ms IS NULL"
                    ),
                    (at_ms, *group),
                    fresh_plan=True,  # the outbox grows from empty while the hub runs
                )

    async def failed(
        self, seqs: list[int], error: str, next_attempt_ms: int, dead_at_ms: int | None
    ) -> None:
        assignments = "attempts = attempts + 1, last_error = ?, next_attempt_ms = ?, dead_at_ms = ?"
        async with self._db.transaction() as tx:
            for group in _groups(seqs):
                condition = f"seq IN ({_marks(group)})"
                await tx.execute(
                    # Another try to come is no change of state; a dead letter is one.
                    f"UPDATE deliveries SET {assignments} WHERE {condition}"
                    if dead_at_ms is None
                    else settling(self._db.dialect, assignments, condition),
                    (error[:500], next_attempt_ms, dead_at_ms, *group),
                )

    async def dead_letters(
        self, limit: int, institution: str | None = None, after: int = 0
    ) -> list[Delivery]:
        # Each read keeps to an index of the dead letters alone (migration 0037): the outbox's
        # delivered and waiting rows, and other members' dead letters, cost it nothing; a page
        # after the first starts inside that index at `after`.
        if institution is None:
            sql, params = DEAD_LETTERS, (after, limit)
        elif self._db.dialect == "postgres":
            sql, params = PG_DEAD_LETTERS_OF, (after, limit, institution, limit)
        else:
            sql, params = DEAD_LETTERS_OF, (after, institution, limit)
        rows = await self._db.fetchall(sql, params, fresh_plan=True)
        return [_delivery(r) for r in rows]

    async def count_dead_letters(self, institution: str | None = None) -> int:
        if institution is None:
            sql, params = COUNT_DEAD_LETTERS, ()
        else:
            sql, params = COUNT_DEAD_LETTERS_OF, (institution,)
        [(count,)] = await self._db.fetchall(sql, params)
        return int(count)

    async def replay(self, seqs: list[int]) -> list[int]:
        replayed: list[int] = []
        async with self._db.transaction() as tx:
            for group in _groups(seqs):
                rows = await tx.fetchall(
                    settling(
                        self._db.dialect,
                        "dead_at_ms = NULL, attempts = 0, next_attempt_ms = 0",
                        "dead_at_ms IS NOT NULL AND acked_at_ms IS NULL"
                        f" AND seq IN ({_marks(group)})",
                        " RETURNING seq",
                    ),
                    tuple(group),
                )
                replayed += [row[0] for row in rows]
        return sorted(replayed)

    async def drop(self, seqs: list[int], at_ms: int) -> list[int]:
        dropped: list[int] = []
        async with self._db.transaction() as tx:
            for group in _groups(seqs):
                rows = await tx.fetchall(
                    settling(
                        self._db.dialect,
                        "acked_at_ms = ?",
                        "dead_at_ms IS NOT NULL AND acked_at_ms IS NULL"
                        f" AND seq IN ({_marks(group)})",
                        " RETURNING seq",
                    ),
                    (at_ms, *group),
                )
                dropped += [row[0] for row in rows]
        return sorted(dropped)

    async def deliveries(self, seqs: list[int]) -> list[Delivery]:
        found: list[Delivery] = []
        for condition, group in self._seqs("d.seq", seqs):
            rows = await self._db.fetchall(
                f"SELECT {_DELIVERY_COLUMNS} FROM deliveries d WHERE {condition} ORDER BY d.seq",
                group,
                fresh_plan=True,
            )
            found += [_delivery(r) for r in rows]
        return found

    async def push_heads(self) -> list[PushHead]:
        rows = await self._db.fetchall(HEADS)
        return [PushHead(r[0], r[1], r[2]) for r in rows]

    async def push_deliveries_after(self, after: int, limit: int) -> tuple[list[Delivery], int]:
        # Read first: numbers are drawn in commit order (publish_in), so every row up to the
        # newest seen now is committed or never will be, and a window below it is whole.
        row = await self._db.fetchone("SELECT MAX(seq) FROM deliveries")
        newest = max(after, row[0] if row and row[0] is not None else 0)
        found = await self._pushes_in_windows("", after, newest, limit, open_above=True)
        if found and len(found) == limit:
            return found, found[-1].seq
        return found, max(newest, found[-1].seq) if found else newest

    async def undelivered_pushes(self, after: int, until: int, limit: int) -> list[Delivery]:
        return await self._pushes_in_windows(
            " AND d.acked_at_ms IS NULL AND d.dead_at_ms IS NULL", after, until, limit
        )

    async def _pushes_in_windows(
        self, waiting: str, after: int, until: int, limit: int, *, open_above: bool = False
    ) -> list[Delivery]:
        """The first `limit` push deliveries with after < seq <= until, in seq order, read a
        window of numbers at a time; with `open_above`, the last window may also hold
        rows above `until` (committed since it was read: they come in order too). On an outbox
        without statistics PostgreSQL takes the push subscriptions' share of the rows for a small
        one, so it reads every row after `after` and sorts them rather than walking the primary
        key and stopping at `limit` (EXPLAIN ANALYZE: 20,000 rows read and sorted for 1,000
        returned): a relay far behind (after a NATS outage) would read its whole backlog at every
        round. A window bounds what each statement reads, whatever the plan: twice `limit`
        numbers (at most FEED_WINDOW), so that a relay behind reads and sorts twice what it
        returns, not four times and more (a window of 20,000 for a batch of 5,000: 28.6 ms, its
        sort spilled to disk, against 1.5 ms for a relay that keeps up)."""
        found: list[Delivery] = []
        window = min(FEED_WINDOW, 2 * limit)
        while len(found) < limit:
            end = after + window if open_above else min(after + window, until)
            rows = await self._db.fetchall(
                f"SELECT {_DELIVERY_COLUMNS} FROM deliveries d JOIN subscriptions s"
                " ON s.id = d.subscription WHERE d.seq > ? AND d.seq <= ? AND s.mode = 'push'"
                f"{waiting} ORDER BY d.seq LIMIT ?",
                (after, end, limit - len(found)),
                fresh_plan=True,
            )
            found += [_delivery(r) for r in rows]
            if end >= until:
                break
            after = end
        return found

    async def undelivered(self, seqs: list[int]) -> set[int]:
        found: set[int] = set()
        for condition, group in self._seqs("seq", seqs):
            rows = await self._db.fetchall(
                f"SELECT seq FROM deliveries WHERE {condition}"
                " AND acked_at_ms IS NULL AND dead_at_ms IS NULL",
                group,
                fresh_plan=True,
            )
            found.update(row[0] for row in rows)
        return found

    async def relay_position(self, name: str) -> int:
        row = await self._db.fetchone(
            "SELECT position FROM relay_positions WHERE name = ?", (name,)
        )
        return 0 if row is None else row[0]

    async def set_relay_position(self, name: str, position: int) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO relay_positions (name, position) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET position = excluded.position",
                (name, position),
            )


def _mutation_values(mutation: Mutation, digest: bytes, recipients: int) -> tuple:
    return (
        mutation.publisher,
        mutation.id,
        mutation.type,
        mutation.version,
        mutation.subject_key,
        mutation.effective.toordinal(),
        digest,
        recipients,
        mutation.published_at_ms,
    )


async def publish_in(tx: Transaction, postgres: bool, items: list[_Item]) -> list[bytes | None]:
    """`publish_many` inside a transaction the caller opened (and wrote its own rows in first:
    on PostgreSQL this ends it, the outbox's turn and the COMMIT in one pipeline)."""
    outcomes: list[bytes | None] = []
    rows: list[tuple] = []
    stored = await (_store_postgres if postgres else _store_sqlite)(tx, items)
    for mutation, _digest, deliveries in items:
        key = (mutation.publisher, mutation.id)
        if key not in stored:  # rare: read what is stored under its id
            row = await tx.fetchone(
                "SELECT digest FROM mutations WHERE publisher = ? AND id = ?", key
            )
            outcomes.append(bytes(row[0]) if row else b"")
            continue
        stored.discard(key)  # the same id again in this call is the first one's duplicate
        outcomes.append(None)
        rows += [
            (subscription, mutation.publisher, mutation.id, mutation.subject_key, message)
            for subscription, message in deliveries
        ]
    # In publishing order: a subscriber's messages keep the order of acceptance.
    if postgres:
        # Publications take turns from here to their commit, so that the outbox's seqs are
        # given in commit order: a reader that has seen seq n (a relay, a mailbox paging with
        # `after`) never finds a lower one committed later. (SQLite's single writer gives this
        # by itself.) The turn is taken as late as it can be, and the rows and the COMMIT go
        # with it in one pipeline: the turn lasts the server's work, not round trips to a hub
        # process busy with other requests.
        # The pull mailboxes' bells ring at the commit, in every process (arrival_bells.py).
        await tx.finish(
            [("SELECT pg_advisory_xact_lock(?)", (_OUTBOX_LOCK,))]
            + (
                [
                    (_PG_DELIVERIES, [list(c) for c in zip(*rows, strict=True)]),
                    (NOTIFY_PULLED, (PROCESS, sorted({row[0] for row in rows}))),
                ]
                if rows
                else []
            )
        )
    elif rows:
        await tx.insert_rows(
            "deliveries",
            ("subscription", "publisher", "mutation_id", "subject_key", "message"),
            rows,
        )
    return outcomes


async def _store_sqlite(tx: Transaction, items: list[_Item]) -> set[tuple[str, str]]:
    """Insert the mutations not stored yet, one multi-row INSERT per chunk rather than a statement
    per mutation; RETURNING tells which were stored: the others were published before."""
    stored: set[tuple[str, str]] = set()
    for at in range(0, len(items), _MUTATIONS_PER_INSERT):
        chunk = items[at : at + _MUTATIONS_PER_INSERT]
        found = await tx.fetchall(
            f"INSERT INTO mutations ({_MUTATION_COLUMNS}) VALUES "
            + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk))
            + " ON CONFLICT DO NOTHING RETURNING publisher, id",
            [v for m, digest, d in chunk for v in _mutation_values(m, digest, len(d))],
        )
        stored.update((row[0], row[1]) for row in found)
    return stored


async def _store_postgres(tx: Transaction, items: list[_Item]) -> set[tuple[str, str]]:
    """As `_store_sqlite`, in one statement of arrays (its text and plan the same for any batch).

    Before the outbox's turn is taken, and in the order of their keys: two publications that
    share ids (a retry racing its first try) then wait for each other in one order only, never
    each for the other, and neither holds the turn while it waits."""
    if not items:
        return set()
    ordered = sorted(items, key=lambda item: (item[0].publisher, item[0].id))
    columns = zip(*(_mutation_values(m, digest, len(d)) for m, digest, d in ordered), strict=True)
    found = await tx.fetchall(_PG_MUTATIONS, [list(column) for column in columns])
    return {(row[0], row[1]) for row in found}


def _groups(seqs: list[int]) -> list[list[int]]:
    wanted = sorted(set(seqs))
    return [wanted[at : at + _IN_BATCH] for at in range(0, len(wanted), _IN_BATCH)]


def _marks(group: list[int]) -> str:
    return ", ".join("?" for _ in group)
