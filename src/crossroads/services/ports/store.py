"""The storage adapter as a whole, and the leases it grants: one object to open, migrate, check
and close, holding the repositories of the other ports."""

from __future__ import annotations

import abc

from ...domain.errors import Refusal
from .audit import AuditLog, TransparencyLog
from .browser_sessions import BrowserSessionStore
from .calls import ReplayGuard, SeenRequests
from .data_reports import DataReportStore
from .declarations import DeclarationStore
from .directory import DirectoryRepository
from .identifier_links import IdentifierLinkStore
from .mutations import MutationStore
from .operators import OperatorRepository
from .registry import RegistryRepository


class StoreUnavailable(Refusal):
    """The store could not be reached, or its connection dropped, within the store's time bound.

    A refusal coded `not_ready` (503): the caller may try again shortly. Nothing of the request
    is known to be written, and nothing the caller is told may claim it was (a use case that
    answered must have written its audit record first)."""

    def __init__(
        self,
        code: str = "not_ready",
        message: str = "the store cannot be reached; try again shortly.",
        field: str | None = None,
    ) -> None:
        super().__init__(code, message, field)


class Store(abc.ABC):
    """The storage adapter as a whole: one object to open, migrate, check and close."""

    registry: RegistryRepository
    directory: DirectoryRepository
    audit: AuditLog
    transparency: TransparencyLog
    replay: ReplayGuard
    seen_requests: SeenRequests
    mutations: MutationStore
    declarations: DeclarationStore
    operators: OperatorRepository
    data_reports: DataReportStore
    identifier_links: IdentifierLinkStore
    browser_sessions: BrowserSessionStore

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise when the store cannot be reached."""

    @abc.abstractmethod
    async def close(self) -> None: ...


class Lease(abc.ABC):
    """A role at most one hub process holds at a time (the audit sequencer, a push partition),
    released by the store or the operating system when the holder dies, so that another process
    can take over."""

    @abc.abstractmethod
    async def try_acquire(self) -> bool:
        """True when this process holds the lease (taking it if free); False when another does.
        Called again while held, it checks that the lease is still held."""

    @abc.abstractmethod
    async def release(self) -> None: ...
