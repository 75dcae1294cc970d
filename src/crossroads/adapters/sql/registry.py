"""The registry repository over SQL."""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

import psycopg

from ...domain.errors import Refusal
from ...domain.registry import (
    Application,
    Authorization,
    Capacity,
    Institution,
    IntegrationRight,
    RoutedProvider,
    Service,
)
from ...domain.versions import version_key
from ...services.ports import ChangedMeanwhile, Expected, RegistryRepository
from .coalesce import Coalescer
from .credential_marks import CredentialMark
from .database import Database, Row

_INSTITUTION = (
    "SELECT enterprise_number, name, member_class, base_url, webhook_bases, peer FROM institutions"
)
_APPLICATION = "SELECT institution, code, name, jwks, active FROM applications"
_SERVICE = (
    "SELECT code, version, name, description, provider, routed_capacity, path,"
    " request_schema, response_schema, response_fields, translations FROM services"
)
_AUTHORIZATION = (
    "SELECT reference, consumer, service, purpose, legal_basis, required_capacities,"
    " allowed_fields, valid_from, valid_to, accepts_provisional, translations FROM authorizations"
)
_CAPACITY = "SELECT code, name, translations FROM capacities"

# kind -> (table, key columns); the admin API deletes by these keys
_KEYS = {
    "institution": ("institutions", ("enterprise_number",)),
    "application": ("applications", ("institution", "code")),
    "capacity": ("capacities", ("code",)),
    "service": ("services", ("code", "version")),
    "authorization": ("authorizations", ("reference",)),
    "integration_right": ("integration_rights", ("institution", "capacity")),
    "routed_provider": ("routed_providers", ("service", "institution")),
}


_KNOWN_EPOCHS_LIMIT = 100_000


def _day(value: int | None) -> date | None:
    return None if value is None else date.fromordinal(value)


def _ordinal(value: date | None) -> int | None:
    return None if value is None else value.toordinal()


def _institution(row: Row) -> Institution:
    return Institution(
        enterprise_number=row[0],
        name=row[1],
        member_class=row[2],
        base_url=row[3],
        webhook_bases=tuple(json.loads(row[4])),
        peer=row[5],
    )


def _application(row: Row) -> Application:
    return Application(
        institution=row[0], code=row[1], name=row[2], jwks=json.loads(row[3]), active=bool(row[4])
    )


def _service(row: Row) -> Service:
    return Service(
        code=row[0],
        version=row[1],
        name=row[2],
        description=row[3],
        provider=row[4],
        routed_capacity=row[5],
        path=row[6],
        request_schema=json.loads(row[7]),
        response_schema=json.loads(row[8]),
        response_fields=tuple(json.loads(row[9])),
        **_wordings(row[10], "name", "description"),
    )


def _wordings(column: str, *fields: str) -> dict[str, dict[str, str]]:
    """The `translations` column (migrations 0030, 0032) as the entry's FIELD_translations
    arguments."""
    # Most entries have none; an exchange reads its authorizations, so the usual '{}' is not parsed.
    held = json.loads(column) if column != "{}" else {}
    return {f"{name}_translations": held.get(name, {}) for name in fields}


def _translations(entry: Any, *fields: str) -> str:
    """The entry's FIELD_translations as the `translations` column holds them ('{}' for none)."""
    held = {name: getattr(entry, f"{name}_translations") for name in fields}
    return json.dumps({name: texts for name, texts in held.items() if texts})


def _capacity(row: Row) -> Capacity:
    return Capacity(row[0], row[1], **_wordings(row[2], "name"))


def _authorization(row: Row) -> Authorization:
    return Authorization(
        reference=row[0],
        consumer=row[1],
        service=row[2],
        purpose=row[3],
        legal_basis=row[4],
        required_capacities=tuple(json.loads(row[5])),
        allowed_fields=tuple(json.loads(row[6])),
        valid_from=_day(row[7]),
        valid_to=_day(row[8]),
        accepts_provisional=bool(row[9]),
        **_wordings(row[10], "legal_basis"),
    )


def _check(expected: Expected[Any], entry: Any, key: list[Any]) -> None:
    if entry != expected.entry:
        raise ChangedMeanwhile(f"{'/'.join(map(str, key))} changed meanwhile.")


class SqlRegistry(RegistryRepository):
    def __init__(self, db: Database, mark: CredentialMark | None = None) -> None:
        """`mark`: the revocation mark of the processes sharing the store (see
        credential_marks.py); the epochs read are kept while it is readable and unchanged."""
        self._db = db
        # Every authenticated request asks `credential_epoch`; the mark spares the read. When it
        # cannot vouch (PostgreSQL's listener down), the concurrent asks of a process share one
        # round trip.
        self._epochs: Coalescer[tuple[str, str], str | None] | None = (
            Coalescer(self._epochs_of, lambda: None) if db.dialect == "postgres" else None
        )
        self._mark = mark
        self._seen_mark: bytes | None = None
        self._known_epochs: dict[tuple[str, str], str | None] = {}

    async def _upsert(
        self,
        table: str,
        keys: tuple[str, ...],
        values: dict,
        expected: Expected[Any] | None = None,
        now: Callable[[Any, list[Any]], Awaitable[tuple[Any, bool]]] | None = None,
    ) -> bool:
        """Insert or replace a row; with `expected`, only if what `now` reads in the write's
        transaction (the entry, and whether it is the row at this key) is the one expected."""
        columns = list(values)
        where = " AND ".join(f"{k} = ?" for k in keys)
        key = [values[k] for k in keys]
        async with self._db.transaction() as tx:
            fresh_only = False
            if expected is not None and now is not None:
                entry, at_key = await now(tx, key)
                _check(expected, entry, key)
                # No row at this key when checked: a row inserted since (PostgreSQL locks no
                # row that is not there) makes the insert do nothing, never replace it.
                fresh_only = not at_key
            existed = await tx.fetchone(f"SELECT 1 FROM {table} WHERE {where}", key)
            updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
            written = await tx.execute(
                f"INSERT INTO {table} ({', '.join(columns)})"
                f" VALUES ({', '.join('?' for _ in columns)})"
                f" ON CONFLICT ({', '.join(keys)}) DO"
                f" {f'UPDATE SET {updates}' if updates and not fresh_only else 'NOTHING'}",
                list(values.values()),
            )
            if fresh_only and written == 0:
                raise ChangedMeanwhile(f"{table} {'/'.join(map(str, key))} was added meanwhile.")
        return existed is None

    async def _locked(
        self, tx: Any, select: str, decode: Callable[[Row], Any], where: str, key: list[Any]
    ) -> Any:
        """The entry `select` finds, decoded, or None. On PostgreSQL its row stays locked until
        the transaction ends, so that no write lands between a check of it and the write that
        follows (SQLite's transaction holds the database's one write lock already)."""
        lock = " FOR UPDATE" if self._db.dialect == "postgres" else ""
        row = await tx.fetchone(f"{select} WHERE {where}{lock}", key)
        return None if row is None else decode(row)

    async def _institution_now(self, tx: Any, key: list[Any]) -> tuple[Any, bool]:
        found = await self._locked(tx, _INSTITUTION, _institution, "enterprise_number = ?", key)
        return found, found is not None

    async def _service_now(self, tx: Any, key: list[Any]) -> tuple[Any, bool]:
        """The version at `key`, or for a new version the code's highest (what the change was
        compared with: a new version takes the requests authorized for the code)."""
        found = await self._locked(tx, _SERVICE, _service, "code = ? AND version = ?", key)
        if found is not None:
            return found, True
        lock = " FOR UPDATE" if self._db.dialect == "postgres" else ""
        rows = await tx.fetchall(f"{_SERVICE} WHERE code = ?{lock}", [key[0]])
        return (_service(max(rows, key=lambda r: version_key(r[1]))) if rows else None), False

    async def put_institution(
        self, institution: Institution, expected: Expected[Institution] | None = None
    ) -> bool:
        return await self._upsert(
            "institutions",
            ("enterprise_number",),
            {
                "enterprise_number": institution.enterprise_number,
                "name": institution.name,
                "member_class": institution.member_class,
                "base_url": institution.base_url,
                "webhook_bases": json.dumps(list(institution.webhook_bases)),
                "peer": institution.peer,
            },
            expected,
            self._institution_now,
        )

    async def get_institution(self, enterprise_number: str) -> Institution | None:
        row = await self._db.fetchone(
            f"{_INSTITUTION} WHERE enterprise_number = ?", (enterprise_number,)
        )
        return _institution(row) if row else None

    async def list_institutions(self) -> list[Institution]:
        return [
            _institution(r)
            for r in await self._db.fetchall(f"{_INSTITUTION} ORDER BY enterprise_number")
        ]

    async def counts(self) -> dict[str, int]:
        # One round trip of four counts: the operator's overview shows them on every view, and
        # reading the rows to count them (authorizations decoded from JSON) was a fifth of it.
        row = await self._db.fetchone(
            "SELECT (SELECT COUNT(*) FROM institutions), (SELECT COUNT(*) FROM applications),"
            " (SELECT COUNT(*) FROM services), (SELECT COUNT(*) FROM authorizations)"
        )
        assert row is not None  # a SELECT of counts always has its row
        return dict(
            zip(("members", "applications", "services", "authorizations"), row, strict=True)
        )

    async def put_application(
        self, application: Application, expected: Expected[Application] | None = None
    ) -> bool:
        key = [application.institution, application.code]
        fresh_only = expected is not None and expected.entry is None
        async with self._credentials_change() as within, self._db.transaction() as tx:
            await within(tx)
            if expected is not None:
                where = "institution = ? AND code = ?"
                _check(
                    expected, await self._locked(tx, _APPLICATION, _application, where, key), key
                )
            existed = await tx.fetchone(
                "SELECT 1 FROM applications WHERE institution = ? AND code = ?", key
            )
            # A new application, and one put inactive, get a new epoch: the tokens issued under
            # the old one are refused from this commit on (see RegistryRepository.credential_epoch).
            written = await tx.execute(
                "INSERT INTO applications (institution, code, name, jwks, active,"
                " token_epoch) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (institution, code) DO "
                + (
                    "NOTHING"  # expected absent: as in `_upsert`
                    if fresh_only
                    else "UPDATE SET name = excluded.name, jwks = excluded.jwks,"
                    " active = excluded.active, token_epoch = CASE WHEN excluded.active = 0"
                    " THEN excluded.token_epoch ELSE applications.token_epoch END"
                ),
                [
                    *key,
                    application.name,
                    json.dumps(application.jwks),
                    int(application.active),
                    secrets.token_hex(8),
                ],
            )
            if fresh_only and written == 0:
                raise ChangedMeanwhile(f"application {'/'.join(key)} was added meanwhile.")
        return existed is None

    async def credential_epoch(self, institution: str, code: str) -> str | None:
        key = (institution, code)
        mark = self._mark.read() if self._mark is not None else None
        if mark is not None:
            if mark != self._seen_mark:
                self._known_epochs.clear()
                self._seen_mark = mark
            if key in self._known_epochs:
                return self._known_epochs[key]
        if self._epochs is not None:
            epoch = await self._epochs.get(key)
        else:
            row = await self._db.fetchone(
                "SELECT token_epoch FROM applications WHERE institution = ? AND code = ?"
                " AND active <> 0",
                key,
            )
            epoch = row[0] if row else None
        # Kept under the mark read before the store was: a change committed meanwhile moves the
        # mark, and the next request reads again.
        if mark is not None and mark == self._seen_mark:
            if len(self._known_epochs) >= _KNOWN_EPOCHS_LIMIT:  # callers' tokens name the keys
                self._known_epochs.clear()
            self._known_epochs[key] = epoch
        return epoch

    @asynccontextmanager
    async def _credentials_change(
        self, revokes: bool = True
    ) -> AsyncIterator[Callable[[Any], Awaitable[None]]]:
        """Around a transaction that may revoke tokens: every process reads the store again after
        it commits (credential_marks.py); this one forgets what it kept at once."""
        if self._mark is None or not revokes:

            async def nothing(tx: Any) -> None:
                """No other process to tell."""

            yield nothing
        else:
            async with self._mark.change() as within:
                yield within
        self._known_epochs.clear()

    async def _epochs_of(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], str | None]:
        pairs = ", ".join("(?, ?)" for _ in keys)
        rows = await self._db.fetchall(
            "SELECT institution, code, token_epoch FROM applications WHERE active <> 0"
            f" AND (institution, code) IN ({pairs})",
            [part for key in keys for part in key],
        )
        return {(row[0], row[1]): row[2] for row in rows}

    async def get_application(self, institution: str, code: str) -> Application | None:
        row = await self._db.fetchone(
            f"{_APPLICATION} WHERE institution = ? AND code = ?", (institution, code)
        )
        return _application(row) if row else None

    async def list_applications(self, institution: str | None = None) -> list[Application]:
        if institution is None:
            rows = await self._db.fetchall(f"{_APPLICATION} ORDER BY institution, code")
        else:
            rows = await self._db.fetchall(
                f"{_APPLICATION} WHERE institution = ? ORDER BY code", (institution,)
            )
        return [_application(r) for r in rows]

    async def put_capacity(self, capacity: Capacity) -> bool:
        return await self._upsert(
            "capacities",
            ("code",),
            {
                "code": capacity.code,
                "name": capacity.name,
                "translations": _translations(capacity, "name"),
            },
        )

    async def list_capacities(self) -> list[Capacity]:
        return [_capacity(r) for r in await self._db.fetchall(f"{_CAPACITY} ORDER BY code")]

    async def put_service(
        self, service: Service, expected: Expected[Service] | None = None
    ) -> bool:
        return await self._upsert(
            "services",
            ("code", "version"),
            {
                "code": service.code,
                "version": service.version,
                "name": service.name,
                "description": service.description,
                "provider": service.provider,
                "routed_capacity": service.routed_capacity,
                "path": service.path,
                "request_schema": json.dumps(service.request_schema),
                "response_schema": json.dumps(service.response_schema),
                "response_fields": json.dumps(list(service.response_fields)),
                "translations": _translations(service, "name", "description"),
            },
            expected,
            self._service_now,
        )

    async def get_service(self, code: str, version: str | None = None) -> Service | None:
        if version is not None:
            row = await self._db.fetchone(
                f"{_SERVICE} WHERE code = ? AND version = ?", (code, version)
            )
            return _service(row) if row else None
        rows = await self._db.fetchall(f"{_SERVICE} WHERE code = ?", (code,))
        return _service(max(rows, key=lambda r: version_key(r[1]))) if rows else None

    async def list_services(self) -> list[Service]:
        return [_service(r) for r in await self._db.fetchall(f"{_SERVICE} ORDER BY code, version")]

    async def put_authorization(self, authorization: Authorization) -> bool:
        return await self._upsert(
            "authorizations",
            ("reference",),
            {
                "reference": authorization.reference,
                "consumer": authorization.consumer,
                "service": authorization.service,
                "purpose": authorization.purpose,
                "legal_basis": authorization.legal_basis,
                "required_capacities": json.dumps(list(authorization.required_capacities)),
                "allowed_fields": json.dumps(list(authorization.allowed_fields)),
                "valid_from": _ordinal(authorization.valid_from),
                "valid_to": _ordinal(authorization.valid_to),
                "accepts_provisional": int(authorization.accepts_provisional),
                "translations": _translations(authorization, "legal_basis"),
            },
        )

    async def get_authorization(self, reference: str) -> Authorization | None:
        row = await self._db.fetchone(f"{_AUTHORIZATION} WHERE reference = ?", (reference,))
        return _authorization(row) if row else None

    async def find_authorizations(
        self, consumer: str | None = None, service: str | None = None, purpose: str | None = None
    ) -> list[Authorization]:
        filters = [
            (c, v)
            for c, v in (("consumer", consumer), ("service", service), ("purpose", purpose))
            if v
        ]
        where = (" WHERE " + " AND ".join(f"{c} = ?" for c, _ in filters)) if filters else ""
        rows = await self._db.fetchall(
            f"{_AUTHORIZATION}{where} ORDER BY reference", [v for _, v in filters]
        )
        return [_authorization(r) for r in rows]

    async def put_integration_right(self, right: IntegrationRight) -> bool:
        return await self._upsert(
            "integration_rights",
            ("institution", "capacity"),
            {
                "institution": right.institution,
                "capacity": right.capacity,
                "legal_basis": right.legal_basis,
                "translations": _translations(right, "legal_basis"),
            },
        )

    async def list_integration_rights(
        self, institution: str | None = None
    ) -> list[IntegrationRight]:
        select = "SELECT institution, capacity, legal_basis, translations FROM integration_rights"
        if institution is None:
            rows = await self._db.fetchall(f"{select} ORDER BY institution, capacity")
        else:
            rows = await self._db.fetchall(
                f"{select} WHERE institution = ? ORDER BY capacity", (institution,)
            )
        return [IntegrationRight(r[0], r[1], r[2], **_wordings(r[3], "legal_basis")) for r in rows]

    async def put_routed_provider(self, provider: RoutedProvider) -> bool:
        return await self._upsert(
            "routed_providers",
            ("service", "institution"),
            {
                "service": provider.service,
                "institution": provider.institution,
            },
        )

    async def list_routed_providers(self, service: str | None = None) -> list[RoutedProvider]:
        select = "SELECT service, institution FROM routed_providers"
        if service is None:
            rows = await self._db.fetchall(f"{select} ORDER BY service, institution")
        else:
            rows = await self._db.fetchall(
                f"{select} WHERE service = ? ORDER BY institution", (service,)
            )
        return [RoutedProvider(*r) for r in rows]

    async def delete(self, kind: str, key: tuple[str, ...]) -> bool:
        table, columns = _KEYS[kind]
        where = " AND ".join(f"{c} = ?" for c in columns)
        try:
            # An institution takes its applications with it.
            revokes = kind in ("application", "institution")
            async with self._credentials_change(revokes) as within, self._db.transaction() as tx:
                await within(tx)
                deleted = await tx.execute(f"DELETE FROM {table} WHERE {where}", list(key)) > 0
        except (sqlite3.IntegrityError, psycopg.IntegrityError):
            raise Refusal(
                "conflict",
                f"{kind} {'/'.join(key)} is still referenced; remove what names it first.",
            ) from None
        return deleted
