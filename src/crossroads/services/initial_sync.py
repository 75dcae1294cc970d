"""Initial synchronisation: a person's current state, sent to an institution that integrates them.

Mutations reach an institution from the day it holds the person; what happened before is the state
it starts from. The publishers of mutation types that have a `state_path` answer that state; it is
queued for the institution's subscriptions the integration entitles, and for them only.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import orjson

from ..domain.audit import AuditRecord
from ..domain.directory import Phase
from ..domain.errors import Refusal
from ..domain.identifiers import IdentifierScheme
from ..domain.minimisation import minimise, path_tree
from ..domain.mutations import Mutation, MutationType
from ..domain.subjects import SubjectHasher
from .clock import Clock
from .directory import DirectoryService
from .mutations import check_payload, cloud_event
from .peer_membership import peer_still_holds
from .ports import AuditLog, MutationStore, ProviderClient, Signer
from .registry_cache import RegistryCache
from .signed_call import ask_signed


class InitialSync:
    def __init__(
        self,
        directory: DirectoryService,
        store: MutationStore,
        cache: RegistryCache,
        sources: ProviderClient,
        signer: Signer,
        audit: AuditLog,
        clock: Clock,
        scheme: IdentifierScheme,
        hasher: SubjectHasher,
    ) -> None:
        """`sources` and `signer` reach the publishers' state endpoints, as exchanges reach
        providers."""
        self._directory = directory
        self._store = store
        self._cache = cache
        self._sources = sources
        self._signer = signer
        self._audit = audit
        self._clock = clock
        self._scheme = scheme
        self._hasher = hasher

    async def integrate(self, raw: dict[str, Any], institution: str | None, actor: str) -> int:
        """Integrate a person (a directory change whose op is integrate), then `send` them their
        current state; returns how many states were queued."""
        if (raw.get("op") or "integrate") != "integrate":
            raise Refusal("malformed_request", "sync goes with op integrate.", "sync")
        change = await self._directory.change(raw, institution, actor)
        return await self.send(change.institution, raw["subject"], change.capacity, change.phase)

    async def send(
        self, institution: str, subject: str, capacity: str, phase: Phase = Phase.DEFINITIVE
    ) -> int:
        """Send a person's current state to the institution's subscriptions an integration in
        `capacity` (and `phase`) entitles, from the publishers that answer one; returns how many
        were queued. A provisional integration entitles only under an authorization that accepts
        one.

        Each is queued for that subscription only, as a mutation effective today with the
        CloudEvents extension `initialsync: true`, and audited (`mutation.sync`). A source that
        fails is audited with its refusal code and skipped; the integration stands.
        """
        subject = self._scheme.normalise_person(subject, "subject")
        key = self._hasher.key(subject)
        today = self._clock.today()
        queued = 0
        for subscription in await self._store.subscriptions(institution=institution):
            authorization = await self._cache.authorization(subscription.authorization)
            if (
                not await peer_still_holds(self._cache, subscription)
                or authorization is None
                or not authorization.is_valid_on(today)
                or capacity not in authorization.required_capacities
                or (phase is Phase.PROVISIONAL and not authorization.accepts_provisional)
            ):
                continue
            kind = await self._store.get_type(subscription.mutation_type)
            if kind is None or kind.state_path is None:
                continue
            mutation_id = f"sync-{uuid.uuid4()}"
            try:
                payload = await self._current_state(
                    kind, subject, authorization.reference, institution, mutation_id
                )
            except Refusal as refusal:
                await self._audit.append(
                    AuditRecord(
                        kind="mutation",
                        at_ms=self._clock.now_ms(),
                        outcome=refusal.code,
                        action="mutation.sync",
                        consumer=institution,
                        service=kind.code,
                        authorization=authorization.reference,
                        subject_hash=key.hex(),
                        target=mutation_id,
                        providers=(kind.publisher,),
                        detail={"reason": refusal.message[:200]},
                    )
                )
                continue
            mutation = Mutation(
                id=mutation_id,
                type=kind.code,
                version=kind.version,
                publisher=kind.publisher,
                subject=subject,
                subject_key=key,
                effective=today,
                payload=payload,
                published_at_ms=self._clock.now_ms(),
            )
            message = cloud_event(
                mutation,
                minimise(payload, path_tree(authorization.allowed_fields)),
                authorization.reference,
                initial=True,
            )
            await self._store.publish(
                mutation, hashlib.sha256(message).digest(), [(subscription.id, message)]
            )
            await self._audit.append(
                AuditRecord(
                    kind="mutation",
                    at_ms=mutation.published_at_ms,
                    outcome="ok",
                    action="mutation.sync",
                    consumer=institution,
                    application=subscription.application,
                    service=kind.code,
                    authorization=authorization.reference,
                    subject_hash=key.hex(),
                    target=mutation_id,
                    providers=(kind.publisher,),
                    detail={"subscription": subscription.id},
                )
            )
            queued += 1
        return queued

    async def _current_state(
        self, kind: MutationType, subject: str, authorization: str, consumer: str, request_id: str
    ) -> object:
        source = await self._cache.institution(kind.publisher)
        if source is None or not source.base_url:
            raise Refusal(
                "provider_unavailable", f"publisher {kind.publisher} has no registered address."
            )
        url = source.base_url.rstrip("/") + (kind.state_path or "")
        body = orjson.dumps(
            {
                "request_id": request_id,
                "mutation_type": kind.code,
                "version": kind.version,
                "subject": subject,
                "consumer": consumer,
                "authorization": authorization,
            }
        )
        payload = await ask_signed(
            self._sources,
            self._signer,
            self._clock,
            url,
            body,
            request_id,
            f"publisher {kind.publisher}",
        )
        try:
            check_payload(kind, payload, quote=False)  # its refusal goes to the audit log
        except Refusal as refusal:
            raise Refusal(
                "invalid_provider_response",
                f"publisher {kind.publisher}'s state does not match the schema: {refusal.message}",
            ) from None
        return payload
