"""Where identifier links with peer hubs are kept (domain/identifier_links.py):
adapters/sql/identifier_links.py, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import abc

from ...domain.identifier_links import IdentifierLink


class IdentifierLinkStore(abc.ABC):
    @abc.abstractmethod
    async def record(self, link: IdentifierLink) -> IdentifierLink | None:
        """Record `link`, replacing the link of the same local identifier with the same peer;
        the link already recorded for its *remote* identifier with another local one is
        returned instead and nothing is written (a conflict). None: recorded."""

    @abc.abstractmethod
    async def remote_of(self, peer: str, local: str) -> IdentifierLink | None: ...

    @abc.abstractmethod
    async def local_of(self, peer: str, remote: str) -> IdentifierLink | None: ...

    @abc.abstractmethod
    async def withdraw(self, peer: str, local: str) -> bool:
        """Forget the link of `local` with `peer`; False when there was none."""
