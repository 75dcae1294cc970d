"""Open a store by URL: `sqlite:///path/to/file.sqlite3` or `postgresql://…`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ...services.ports import Lease, Store
from .arrival_bells import NotifyBells, SocketBells
from .audit import PostgresAuditLog, SQLiteAuditLog
from .audit_file import audit_path, move_audit_tables
from .browser_sessions import SqlBrowserSessions
from .credential_marks import CredentialMark, FileMark, NotifyMark
from .data_reports import SqlDataReports
from .database import Database, PostgresDatabase, SQLiteDatabase
from .declarations import SqlDeclarations
from .directory import SqlDirectory
from .identifier_links import SqlIdentifierLinks
from .lease import FileLease, PostgresLease
from .migrate import migrate
from .mutations import SqlMutations
from .operators import SqlOperators
from .privacy_budgets import SqlPrivacyBudgets
from .registry import SqlRegistry
from .replay import SqlReplayGuard
from .rights import SqlRights
from .rights_competence import SqlCompetence
from .seen_requests import SqlSeenRequests
from .statistics_source import SqlStatisticsSource
from .transparency import SqlTransparencyLog

SEQUENCER_LEASE_KEY = (
    0x43524F53_53510002  # "CROSSQ" + 2; not the key of the sequencing transaction's lock
)
PUSH_LEASE_KEY = 0x43524F53_50550000  # "CROSPU" + the partition's number


class SqlStore(Store):
    def __init__(
        self,
        db: Database,
        audit: SQLiteAuditLog | PostgresAuditLog,
        lease: Callable[[], Lease],
        partition_lease: Callable[[int], Lease],
        credential_mark: CredentialMark | None = None,
        arrival_bells: NotifyBells | SocketBells | None = None,
        audit_db: Database | None = None,
    ) -> None:
        """`lease` makes the sequencer's lease on this store (one per hub process),
        `partition_lease` the lease of a push partition (services/push_partitions.py),
        `credential_mark` the store's revocation mark (credential_marks.py), `arrival_bells` the
        bells between the processes sharing it (arrival_bells.py), `audit_db` the database of
        the audit log and its tree when not `db` (a SQLite hub's audit file: audit_file.py)."""
        self.db = db
        self.audit_db = db if audit_db is None else audit_db
        self.sequencer_lease = lease
        self.push_partition_lease = partition_lease
        self._credential_mark = credential_mark
        self.arrival_bells = arrival_bells
        self.registry = SqlRegistry(db, credential_mark)
        self.directory = SqlDirectory(db)
        self.audit = audit
        self.transparency = SqlTransparencyLog(self.audit_db)
        self.replay = SqlReplayGuard(db)
        self.seen_requests = SqlSeenRequests(db)
        self.mutations = SqlMutations(db)
        self.declarations = SqlDeclarations(db)
        self.operators = SqlOperators(db)
        self.data_reports = SqlDataReports(db)
        self.identifier_links = SqlIdentifierLinks(db)
        self.browser_sessions = SqlBrowserSessions(db)
        self.statistics = SqlStatisticsSource(db, self.audit_db)
        self.privacy_budgets = SqlPrivacyBudgets(db)
        self.rights = SqlRights(db)
        self.rights_competence = SqlCompetence(db)

    async def ping(self) -> None:
        await self.db.fetchone("SELECT 1")

    async def close(self) -> None:
        self.statistics.close()
        self.seen_requests.close()
        await self.audit.close()
        await self.db.close()
        if self.audit_db is not self.db:
            await self.audit_db.close()
        if self._credential_mark is not None:
            await self._credential_mark.close()
        if self.arrival_bells is not None:
            await self.arrival_bells.close()


def sqlite_path(url: str) -> str:
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        raise ValueError(f"a SQLite store URL starts with {prefix!r}: {url!r}")
    return url[len(prefix) :] or ":memory:"


async def open_store(
    url: str,
    *,
    pool_size: int = 10,
    run_migrations: bool = True,
    sequence_on_append: bool = True,
    wait_seconds: float = 5.0,
    statement_seconds: float = 30.0,
    audit_commit_delay_seconds: float = 0.0,
) -> SqlStore:
    """`sequence_on_append=False` leaves every audit entry to the sequencer (see
    adapters/sql/audit.py); tests of the sequencer use it. `wait_seconds` bounds connecting
    to PostgreSQL and taking a pooled connection, `statement_seconds` each statement (outage.py);
    `audit_commit_delay_seconds` is the audit log's commit delay (see SQLiteAuditLog and
    PostgresAuditLog)."""
    if url.startswith("sqlite:"):
        path = sqlite_path(url)
        if path == ":memory:":
            raise ValueError(
                "an in-memory SQLite store cannot hold the audit log, a file of its own;"
                " name a file"
            )
        lite = SQLiteDatabase(path)
        if run_migrations:
            try:
                await migrate(lite)
                await move_audit_tables_async(path)
            except BaseException:
                await lite.close()
                raise
        audit_db = SQLiteDatabase(audit_path(path))
        audit = SQLiteAuditLog(
            audit_db,
            sequence_on_append=sequence_on_append,
            commit_delay_seconds=audit_commit_delay_seconds,
        )
        store = SqlStore(
            lite,
            audit,
            lambda: FileLease(f"{path}.sequencer.lock"),
            lambda n: FileLease(f"{path}.push-{n}.lock"),
            FileMark(f"{path}.credentials"),
            SocketBells(f"{path}.arrivals"),
            audit_db,
        )
    elif url.startswith(("postgresql:", "postgres:")):
        pg = await PostgresDatabase.connect(
            url,
            min_size=min(2, pool_size),
            max_size=pool_size,
            wait_seconds=wait_seconds,
            statement_seconds=statement_seconds,
        )
        mark = NotifyMark(url, pg)
        mark.start()
        store = SqlStore(
            pg,
            PostgresAuditLog(
                pg,
                sequence_on_append=sequence_on_append,
                commit_delay_seconds=audit_commit_delay_seconds,
            ),
            lambda: PostgresLease(url, SEQUENCER_LEASE_KEY),
            lambda n: PostgresLease(url, PUSH_LEASE_KEY + n),
            mark,
            NotifyBells(url),
        )
        if run_migrations:
            await migrate(pg)
    else:
        raise ValueError(f"unknown store URL {url!r}: use sqlite:///FILE or postgresql://…")
    return store


async def migrate_store(url: str) -> list[str]:
    """Apply what the store lacks, without opening it for use (`crossroads migrate`): the
    migrations, then on SQLite the audit log's move to its own file (audit_file.py). Returns what
    was applied."""
    if not url.startswith("sqlite:"):
        store = await open_store(url, run_migrations=False)
        try:
            return await migrate(store.db)
        finally:
            await store.close()
    path = sqlite_path(url)
    lite = SQLiteDatabase(path)
    try:
        applied = await migrate(lite)
    finally:
        await lite.close()
    if await move_audit_tables_async(path):
        applied.append("the audit log moved to its own file")
    return applied


async def move_audit_tables_async(path: str) -> bool:
    """`move_audit_tables` (audit_file.py) off the event loop: an earlier version's log may be
    large, and a process starting beside another waits for its move."""
    return await asyncio.to_thread(move_audit_tables, path)
