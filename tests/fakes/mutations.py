"""Mutation types, subscriptions, accepted mutations and the outbox, in memory (MutationStore)."""

from __future__ import annotations

from dataclasses import dataclass

from crossroads.domain.mutations import Mutation, MutationType, Subscription
from crossroads.domain.versions import version_key
from crossroads.services.ports import Delivery, MutationStore, PushHead


@dataclass
class _Row:
    """One delivery in the outbox, with the state the SQL table keeps beside it."""

    seq: int
    subscription: str
    publisher: str
    mutation_id: str
    subject_key: bytes
    message: bytes
    attempts: int = 0
    last_error: str | None = None
    next_attempt_ms: int = 0
    dead_at_ms: int | None = None
    acked_at_ms: int | None = None

    def delivery(self) -> Delivery:
        return Delivery(
            self.seq,
            self.subscription,
            self.publisher,
            self.mutation_id,
            self.subject_key,
            self.message,
            self.attempts,
            self.last_error,
            self.dead_at_ms,
        )

    @property
    def waiting(self) -> bool:
        return self.acked_at_ms is None


class MemoryMutationStore(MutationStore):
    def __init__(self) -> None:
        self.types: dict[tuple[str, str], MutationType] = {}
        self.subs: dict[str, Subscription] = {}
        self.accepted: dict[tuple[str, str], bytes] = {}  # (publisher, id) -> digest
        self.outbox: dict[int, _Row] = {}
        self.positions: dict[str, int] = {}
        self._last_seq = 0  # seqs are never given twice, as a SQL sequence

    async def put_type(self, mutation_type: MutationType) -> bool:
        key = (mutation_type.code, mutation_type.version)
        created = key not in self.types
        self.types[key] = mutation_type
        return created

    async def get_type(self, code: str, version: str | None = None) -> MutationType | None:
        if version is not None:
            return self.types.get((code, version))
        versions = [v for c, v in self.types if c == code]
        return self.types[(code, max(versions, key=version_key))] if versions else None

    async def list_types(self) -> list[MutationType]:
        return [self.types[k] for k in sorted(self.types)]

    async def delete_type(self, code: str) -> bool:
        gone = [k for k in self.types if k[0] == code]
        for key in gone:
            del self.types[key]
        return bool(gone)

    async def update_subscription(self, subscription: Subscription) -> bool:
        if subscription.id not in self.subs:
            return False
        self.subs[subscription.id] = subscription
        return True

    async def add_subscription(self, subscription: Subscription) -> bool:
        if subscription.id in self.subs or any(
            (s.institution, s.application, s.mutation_type)
            == (subscription.institution, subscription.application, subscription.mutation_type)
            for s in self.subs.values()
        ):
            return False
        self.subs[subscription.id] = subscription
        return True

    async def subscriptions(
        self,
        *,
        mutation_type: str | None = None,
        institution: str | None = None,
        application: str | None = None,
    ) -> list[Subscription]:
        found = [
            s
            for s in self.subs.values()
            if mutation_type in (None, s.mutation_type)
            and institution in (None, s.institution)
            and application in (None, s.application)
        ]
        return sorted(found, key=lambda s: (s.created_at_ms, s.id))

    async def delete_subscription(self, subscription_id: str) -> bool:
        for seq in [
            seq
            for seq, row in self.outbox.items()
            if row.subscription == subscription_id and row.waiting
        ]:
            del self.outbox[seq]  # nobody can fetch it now
        return self.subs.pop(subscription_id, None) is not None

    async def publish(
        self, mutation: Mutation, digest: bytes, deliveries: list[tuple[str, bytes]]
    ) -> bytes | None:
        [outcome] = await self.publish_many([(mutation, digest, deliveries)])
        return outcome

    async def publish_many(
        self, items: list[tuple[Mutation, bytes, list[tuple[str, bytes]]]]
    ) -> list[bytes | None]:
        outcomes: list[bytes | None] = []
        for mutation, digest, deliveries in items:
            key = (mutation.publisher, mutation.id)
            if key in self.accepted:
                outcomes.append(self.accepted[key])
                continue
            self.accepted[key] = digest
            outcomes.append(None)
            for subscription, message in deliveries:
                self._last_seq += 1
                seq = self._last_seq
                self.outbox[seq] = _Row(
                    seq,
                    subscription,
                    mutation.publisher,
                    mutation.id,
                    mutation.subject_key,
                    message,
                )
        return outcomes

    async def digests(self, publisher: str, ids: list[str]) -> dict[str, bytes]:
        return {i: self.accepted[(publisher, i)] for i in ids if (publisher, i) in self.accepted}

    def _rows(self, seqs=None) -> list[_Row]:
        wanted = self.outbox if seqs is None else {s for s in seqs if s in self.outbox}
        return [self.outbox[seq] for seq in sorted(wanted)]

    def _of(self, institution: str, application: str, row: _Row) -> bool:
        sub = self.subs.get(row.subscription)
        return sub is not None and (sub.institution, sub.application) == (institution, application)

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
        found = [
            r.delivery()
            for r in self._rows()
            if r.seq > after
            and r.waiting
            and r.dead_at_ms is None
            and self._of(institution, application, r)
            and self.subs[r.subscription].mode == "pull"
            and mutation_type in (None, self.subs[r.subscription].mutation_type)
            and mutation_id in (None, r.mutation_id)
        ]
        return found[:limit]

    async def unacknowledged(
        self, institution: str, application: str, seqs: list[int]
    ) -> list[Delivery]:
        return [
            r.delivery()
            for r in self._rows(seqs)
            if r.waiting and self._of(institution, application, r)
        ]

    async def ack(self, institution: str, application: str, seqs: list[int], at_ms: int) -> int:
        acked = [r for r in self._rows(seqs) if r.waiting and self._of(institution, application, r)]
        for row in acked:
            row.acked_at_ms = at_ms
        return len(acked)

    async def due_pushes(
        self, subscription: str, now_ms: int, limit: int, after: int = 0
    ) -> list[Delivery]:
        waiting = [
            r
            for r in self._rows()
            if r.subscription == subscription
            and r.waiting
            and r.dead_at_ms is None
            and r.seq > after
        ][:limit]
        if not waiting or waiting[0].next_attempt_ms > now_ms:
            return []
        return [r.delivery() for r in waiting]

    async def delivered(self, seqs: list[int], at_ms: int) -> None:
        for row in self._rows(seqs):
            row.acked_at_ms = at_ms

    async def failed(
        self, seqs: list[int], error: str, next_attempt_ms: int, dead_at_ms: int | None
    ) -> None:
        for row in self._rows(seqs):
            row.attempts += 1
            row.last_error, row.next_attempt_ms, row.dead_at_ms = (
                error[:500],
                next_attempt_ms,
                dead_at_ms,
            )

    async def count_dead_letters(self, institution: str | None = None) -> int:
        return len(await self.dead_letters(len(self.outbox), institution))

    async def dead_letters(
        self, limit: int, institution: str | None = None, after: int = 0
    ) -> list[Delivery]:
        return [
            r.delivery()
            for r in self._rows()
            if r.dead_at_ms is not None
            and r.waiting
            and r.seq > after
            and (
                institution is None
                or (
                    r.subscription in self.subs
                    and self.subs[r.subscription].institution == institution
                )
            )
        ][:limit]

    async def replay(self, seqs: list[int]) -> list[int]:
        replayed = [r for r in self._rows(seqs) if r.dead_at_ms is not None and r.waiting]
        for row in replayed:
            row.dead_at_ms, row.attempts, row.next_attempt_ms = None, 0, 0
        return [r.seq for r in replayed]

    async def drop(self, seqs: list[int], at_ms: int) -> list[int]:
        dropped = [r for r in self._rows(seqs) if r.dead_at_ms is not None and r.waiting]
        for row in dropped:
            row.acked_at_ms = at_ms
        return [r.seq for r in dropped]

    async def deliveries(self, seqs: list[int]) -> list[Delivery]:
        return [r.delivery() for r in self._rows(seqs)]

    async def push_heads(self) -> list[PushHead]:
        heads: dict[str, _Row] = {}
        for r in self._rows():
            sub = self.subs.get(r.subscription)
            if sub is not None and sub.mode == "push" and r.waiting and r.dead_at_ms is None:
                heads.setdefault(r.subscription, r)
        return sorted(
            (PushHead(r.subscription, r.seq, r.attempts) for r in heads.values()),
            key=lambda h: h.seq,
        )

    async def push_deliveries_after(self, after: int, limit: int) -> tuple[list[Delivery], int]:
        found = [
            r.delivery()
            for r in self._rows()
            if r.seq > after
            and r.subscription in self.subs
            and self.subs[r.subscription].mode == "push"
        ][:limit]
        if found and len(found) == limit:
            return found, found[-1].seq
        return found, max([after, *(r.seq for r in self._rows())])

    async def undelivered_pushes(self, after: int, until: int, limit: int) -> list[Delivery]:
        return [
            r.delivery()
            for r in self._rows()
            if after < r.seq <= until
            and r.waiting
            and r.dead_at_ms is None
            and r.subscription in self.subs
            and self.subs[r.subscription].mode == "push"
        ][:limit]

    async def undelivered(self, seqs: list[int]) -> set[int]:
        return {r.seq for r in self._rows(seqs) if r.waiting and r.dead_at_ms is None}

    async def relay_position(self, name: str) -> int:
        return self.positions.get(name, 0)

    async def set_relay_position(self, name: str, position: int) -> None:
        self.positions[name] = position
