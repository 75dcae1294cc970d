"""The mutations' port: mutation types, subscriptions, accepted mutations and the outbox of
their deliveries, as publishing, the mailbox and the push dispatcher use them."""

from __future__ import annotations

import abc
from dataclasses import dataclass

from ...domain.mutations import Mutation, MutationType, Subscription


# Not frozen: a frozen dataclass sets each of its 9 fields through `object.__setattr__`, and the
# outbox makes one per row it reads (a page of pushes, a mailbox page, a JetStream batch): under
# `bench mutations --store postgres` making them was 6.7 % of the workers' Python time (py-spy
# --gil), two thirds of it in that `__init__`. Not frozen, `__init__` assigns the fields directly
# (1.08 µs a delivery made, now 0.21); slotted for its size and its attributes' speed. Nothing
# hashes a delivery or changes one once read.
@dataclass(slots=True)
class Delivery:
    """One message of the outbox, for one subscription."""

    seq: int
    subscription: str
    publisher: str
    mutation_id: str
    subject_key: bytes
    message: bytes
    attempts: int = 0
    last_error: str | None = None
    dead_at_ms: int | None = None


@dataclass(frozen=True)
class PushHead:
    """A push subscription's next delivery: its oldest neither delivered nor dead."""

    subscription: str
    seq: int
    attempts: int


class MutationStore(abc.ABC):
    """Mutation types, subscriptions, accepted mutations and the outbox of their deliveries."""

    @abc.abstractmethod
    async def put_type(self, mutation_type: MutationType) -> bool:
        """Create or replace; True when created."""

    @abc.abstractmethod
    async def get_type(self, code: str, version: str | None = None) -> MutationType | None:
        """The named version, or the highest version (in `domain.versions`' order) when None."""

    @abc.abstractmethod
    async def list_types(self) -> list[MutationType]: ...

    @abc.abstractmethod
    async def delete_type(self, code: str) -> bool:
        """Remove every version of a type; False when none was registered."""

    @abc.abstractmethod
    async def update_subscription(self, subscription: Subscription) -> bool:
        """Replace its authorization and webhook address; False when it no longer exists."""

    @abc.abstractmethod
    async def add_subscription(self, subscription: Subscription) -> bool:
        """False when the application already subscribes to the type (nothing is changed)."""

    @abc.abstractmethod
    async def subscriptions(
        self,
        *,
        mutation_type: str | None = None,
        institution: str | None = None,
        application: str | None = None,
    ) -> list[Subscription]: ...

    @abc.abstractmethod
    async def delete_subscription(self, subscription_id: str) -> bool:
        """Remove it, and its deliveries not yet received."""

    @abc.abstractmethod
    async def publish(
        self, mutation: Mutation, digest: bytes, deliveries: list[tuple[str, bytes]]
    ) -> bytes | None:
        """Store the mutation and its deliveries (subscription id, message) in one transaction.

        Returns None when stored; when the publisher already used the id, stores nothing and
        returns the digest accepted then.
        """

    @abc.abstractmethod
    async def publish_many(
        self, items: list[tuple[Mutation, bytes, list[tuple[str, bytes]]]]
    ) -> list[bytes | None]:
        """`publish` for each item, all in one transaction; the outcomes in order."""

    @abc.abstractmethod
    async def digests(self, publisher: str, ids: list[str]) -> dict[str, bytes]:
        """The digests of the publisher's mutations among `ids` already accepted."""

    @abc.abstractmethod
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
        """Unacknowledged deliveries of the application's pull subscriptions with seq > after, in
        seq order; of one mutation type, or of one mutation, when named."""

    @abc.abstractmethod
    async def unacknowledged(
        self, institution: str, application: str, seqs: list[int]
    ) -> list[Delivery]:
        """The application's deliveries among `seqs` not yet acknowledged, in seq order."""

    @abc.abstractmethod
    async def ack(self, institution: str, application: str, seqs: list[int], at_ms: int) -> int:
        """Acknowledge the application's deliveries among `seqs`; return how many were
        acknowledged now."""

    @abc.abstractmethod
    async def due_pushes(
        self, subscription: str, now_ms: int, limit: int, after: int = 0
    ) -> list[Delivery]:
        """The subscription's oldest waiting deliveries (not acknowledged, not dead) with a seq
        above `after`, up to `limit`, when the oldest one's next attempt is due; otherwise none
        (delivery keeps the order)."""

    @abc.abstractmethod
    async def delivered(self, seqs: list[int], at_ms: int) -> None:
        """Mark pushed deliveries as received (the subscriber's webhook accepted them)."""

    @abc.abstractmethod
    async def failed(
        self, seqs: list[int], error: str, next_attempt_ms: int, dead_at_ms: int | None
    ) -> None:
        """Count one failed attempt; wait until `next_attempt_ms`, or set them aside as dead
        letters."""

    @abc.abstractmethod
    async def dead_letters(
        self, limit: int, institution: str | None = None, after: int = 0
    ) -> list[Delivery]:
        """The oldest `limit` dead letters not yet acknowledged, numbered after `after` (the last
        seq of the page before); only those of `institution`'s subscriptions when it is named (so
        that another member's many do not hide its own)."""

    @abc.abstractmethod
    async def count_dead_letters(self, institution: str | None = None) -> int:
        """How many dead letters are not yet acknowledged (what `dead_letters` would list without
        a limit): all members', or `institution`'s subscriptions' only."""

    @abc.abstractmethod
    async def replay(self, seqs: list[int]) -> list[int]:
        """Put dead letters among `seqs` back in their queue, due now, with their attempts reset;
        the seqs put back."""

    @abc.abstractmethod
    async def drop(self, seqs: list[int], at_ms: int) -> list[int]:
        """Give up the dead letters among `seqs` for good: closed as of `at_ms`, never sent
        again (their row stays, as a delivered one's does); the seqs closed."""

    @abc.abstractmethod
    async def deliveries(self, seqs: list[int]) -> list[Delivery]:
        """The deliveries among `seqs` (any state), in seq order."""

    @abc.abstractmethod
    async def push_heads(self) -> list[PushHead]:
        """Each push subscription's oldest delivery that is neither delivered nor dead (none for
        a subscription with nothing waiting), in seq order: what its push must deliver next."""

    @abc.abstractmethod
    async def push_deliveries_after(self, after: int, limit: int) -> tuple[list[Delivery], int]:
        """The first `limit` deliveries of push subscriptions with seq > after, in seq order (what
        a relay feeds on), and the seq up to which every push delivery is among them or earlier:
        the last one's when `limit` were found, else the newest in the outbox when they were read,
        however many deliveries of pull subscriptions lie between (a relay moves past those
        too). Seq order is commit order: a row with a lower seq never becomes visible later."""

    @abc.abstractmethod
    async def undelivered_pushes(self, after: int, until: int, limit: int) -> list[Delivery]:
        """Deliveries of push subscriptions with after < seq <= until that still wait: neither
        received nor set aside as dead letters, in seq order (what a relay re-sends to a stream
        that lost them)."""

    @abc.abstractmethod
    async def undelivered(self, seqs: list[int]) -> set[int]:
        """Those of `seqs` whose deliveries still wait: neither received, nor dead letters, nor
        gone with their subscription (a copy of any other must not be pushed again)."""

    @abc.abstractmethod
    async def relay_position(self, name: str) -> int:
        """The last seq the relay `name` fed on (0 before its first)."""

    @abc.abstractmethod
    async def set_relay_position(self, name: str, position: int) -> None: ...
