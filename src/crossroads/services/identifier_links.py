"""Identifier links with peer hubs that keep another identifier scheme (docs/federation.md,
"Identifiers across the border"; domain/identifier_links.py).

`IdentifierLinks` records and withdraws links for the authority the operator designated for each
peer (`crossroads federation pin --identifier-authority`), auditing every change and every refused
attempt, and looks links up in either direction: this hub's identifier to the peer's, for an
exchange or lookup leaving for the peer (ExchangeService), and the peer's to this hub's, for a
mutation arriving from it (PeerMutations). The use of a link is audited by whoever uses it: the
exchange record names the link's authority and the authorization that allowed the lookup, the
publication record of a mutation names the link's authority.
"""

from __future__ import annotations

from ..domain.audit import AuditRecord
from ..domain.callers import Caller
from ..domain.errors import Refusal
from ..domain.identifier_links import IdentifierLink, check_remote, no_link
from ..domain.identifiers import IdentifierScheme, scheme_for
from ..domain.subjects import SubjectHasher
from .clock import Clock
from .federation import Federation
from .ports import AuditLog, IdentifierLinkStore


class IdentifierLinks:
    def __init__(
        self,
        store: IdentifierLinkStore,
        federation: Federation,
        audit: AuditLog,
        clock: Clock,
        scheme: IdentifierScheme,
        hasher: SubjectHasher,
    ) -> None:
        self._store = store
        self._federation = federation
        self._audit = audit
        self._clock = clock
        self._scheme = scheme
        self._hasher = hasher

    def mapped(self, peer: str) -> bool:
        """Whether persons cross to and from `peer` under a linked identifier (the operator named
        an identifier authority when pinning it) rather than under the same one."""
        return self._federation.pin(peer).identifier_authority is not None

    async def remote_of(self, peer: str, local: str) -> IdentifierLink:
        """The link of this hub's (normalised) identifier with `peer`; no_identifier_link when
        there is none."""
        link = await self._store.remote_of(peer, local)
        if link is None:
            raise no_link(peer, f"its identifier at {peer}")
        return link

    async def local_of(self, peer: str, remote: str) -> IdentifierLink:
        """The link of the peer's identifier with this hub's; no_identifier_link when none."""
        link = await self._store.local_of(peer, remote)
        if link is None:
            raise no_link(peer, f"its identifier here, for {peer}'s")
        return link

    async def local_for_mutation(
        self, peer: str, publisher: str, mutation_id: object, remote: object
    ) -> str:
        """This hub's identifier for the subject of a mutation `peer` pushed (published here by
        `publisher`, the peer's number), audited (`identifier_link.use`, naming the mutation and
        the link's authority); no_identifier_link, audited too, when none is recorded."""
        found = await self._store.local_of(peer, remote) if isinstance(remote, str) else None
        await self._audit.append(
            AuditRecord(
                kind="identifier",
                at_ms=self._clock.now_ms(),
                outcome="ok" if found else "no_identifier_link",
                consumer=publisher,
                subject_hash=self._hasher.key(found.local).hex() if found else None,
                action="identifier_link.use",
                target=str(mutation_id)[:100],
                detail={"peer": peer, **({"authority": found.authority} if found else {})},
            )
        )
        if found is None:
            refusal = no_link(peer, f"its identifier here, for {peer}'s")
            refusal.mark_audited()
            raise refusal
        return found.local

    async def record(
        self, caller: Caller, peer: str, local: object, remote: object
    ) -> IdentifierLink:
        """Link `local` (this hub's scheme) with `remote` (the peer's: checked by the peer's
        scheme when its document declares one this hub knows). Only the peer's identifier
        authority may; a remote identifier already linked to another person is a conflict."""
        authority, subject = await self._authorised(caller, peer, local, "identifier_link.record")
        try:
            remote_id = await self._remote(peer, remote)
            link = IdentifierLink(peer, subject, remote_id, authority, self._clock.now_ms())
            taken = await self._store.record(link)
            if taken is not None:
                raise Refusal(
                    "conflict",
                    f"{peer}'s identifier is already linked to another person here; withdraw "
                    "that link first.",
                    "identifier",
                )
        except Refusal as refusal:
            await self._log(caller, peer, subject, "identifier_link.record", refusal)
            raise
        await self._log(caller, peer, subject, "identifier_link.record", None)
        return link

    async def withdraw(self, caller: Caller, peer: str, local: object) -> None:
        _authority, subject = await self._authorised(
            caller, peer, local, "identifier_link.withdraw"
        )
        if not await self._store.withdraw(peer, subject):
            refusal = no_link(peer, f"its identifier at {peer}")
            await self._log(caller, peer, subject, "identifier_link.withdraw", refusal)
            raise refusal
        await self._log(caller, peer, subject, "identifier_link.withdraw", None)

    async def _authorised(
        self, caller: Caller, peer: str, local: object, action: str
    ) -> tuple[str, str]:
        """(the peer's identifier authority, the normalised local identifier), once the caller
        is proved to act for that authority; the refusal is audited."""
        authority = self._federation.pin(peer).identifier_authority
        subject = self._scheme.normalise_person(local, "subject")
        if authority is None or caller.institution != authority:
            refusal = Refusal(
                "not_identifier_authority",
                f"institution {caller.institution} is not the identifier authority for peer "
                f"hub {peer}"
                + ("" if authority else " (the operator designated none: one scheme is shared)")
                + ".",
            )
            await self._log(caller, peer, subject, action, refusal)
            raise refusal
        return authority, subject

    async def _remote(self, peer: str, remote: object) -> str:
        declared = await self._federation.peer_scheme(peer)
        try:
            scheme = scheme_for(declared) if declared else None
        except ValueError:  # a scheme this hub does not know: the peer checks it when used
            scheme = None
        if scheme is None:
            return check_remote(remote)
        return scheme.normalise_person(remote, "identifier")

    async def _log(
        self, caller: Caller, peer: str, subject: str, action: str, refusal: Refusal | None
    ) -> None:
        await self._audit.append(
            AuditRecord(
                kind="identifier",
                at_ms=self._clock.now_ms(),
                outcome="ok" if refusal is None else refusal.code,
                consumer=caller.institution,
                application=caller.application,
                subject_hash=self._hasher.key(subject).hex(),
                action=action,
                target=peer,
            )
        )
        if refusal is not None:
            refusal.mark_audited()
