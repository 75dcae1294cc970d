"""Ports: what the use cases need from the outside world, as abstract classes.

Adapters implement them (SQLite, PostgreSQL, aiohttp, joserfc keys); unit tests use the fakes in
`tests/fakes.py`. Every method is async so that one contract serves an embedded store that answers
in microseconds and a networked one.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import date
from typing import Callable, NamedTuple

from ..domain.archive import Segment
from ..domain.declarations.dimona import Decision, DimonaPeriod, Employer, EmployerRef, Event
from ..domain.declarations.anomalies import Anomaly
from ..domain.declarations.dimona import DimonaForm
from ..domain.declarations.dmfa import DmfaDeclaration, WorkerSummary
from ..domain.declarations.records import Batch, Declaration, Mandate, PendingEvent, QueueShare
from ..domain.audit import AuditRecord
from ..domain.directory import Integration, Phase
from ..domain.merkle import Node, TreeHead
from ..domain.mutations import Mutation, MutationType, Subscription
from ..domain.periods import Period
from ..domain.registry import (
    Application, Authorization, Capacity, Institution, IntegrationRight, RoutedProvider, Service,
)


class RegistryRepository(abc.ABC):
    @abc.abstractmethod
    async def put_institution(self, institution: Institution) -> bool:
        """Insert or replace; True when it was new."""

    @abc.abstractmethod
    async def get_institution(self, enterprise_number: str) -> Institution | None: ...

    @abc.abstractmethod
    async def list_institutions(self) -> list[Institution]: ...

    @abc.abstractmethod
    async def put_application(self, application: Application) -> bool: ...

    @abc.abstractmethod
    async def get_application(self, institution: str, code: str) -> Application | None: ...

    @abc.abstractmethod
    async def list_applications(self, institution: str | None = None) -> list[Application]: ...

    @abc.abstractmethod
    async def credential_epoch(self, institution: str, code: str) -> str | None:
        """The application's credential epoch while it is registered and active, else None.

        Read from the store on every call, never from a cache, so that disabling or deleting an
        application through any hub process counts in every other at once. `put_application`
        draws a new epoch for a new application and for one put inactive: access tokens carry
        the epoch they were issued under, and a token whose epoch is no longer current is
        refused (re-enabling an application does not revive the tokens it had before)."""

    @abc.abstractmethod
    async def put_capacity(self, capacity: Capacity) -> bool: ...

    @abc.abstractmethod
    async def list_capacities(self) -> list[Capacity]: ...

    @abc.abstractmethod
    async def put_service(self, service: Service) -> bool: ...

    @abc.abstractmethod
    async def get_service(self, code: str, version: str | None = None) -> Service | None:
        """The named version, or the highest version when `version` is None."""

    @abc.abstractmethod
    async def list_services(self) -> list[Service]: ...

    @abc.abstractmethod
    async def put_authorization(self, authorization: Authorization) -> bool: ...

    @abc.abstractmethod
    async def get_authorization(self, reference: str) -> Authorization | None: ...

    @abc.abstractmethod
    async def find_authorizations(
        self, consumer: str | None = None, service: str | None = None, purpose: str | None = None
    ) -> list[Authorization]: ...

    @abc.abstractmethod
    async def put_integration_right(self, right: IntegrationRight) -> bool: ...

    @abc.abstractmethod
    async def list_integration_rights(self, institution: str | None = None) -> list[IntegrationRight]: ...

    @abc.abstractmethod
    async def put_routed_provider(self, provider: RoutedProvider) -> bool: ...

    @abc.abstractmethod
    async def list_routed_providers(self, service: str | None = None) -> list[RoutedProvider]: ...

    @abc.abstractmethod
    async def delete(self, kind: str, key: tuple[str, ...]) -> bool:
        """Delete an institution, application, capacity, service, authorization, integration right
        (institution, capacity) or routed provider (service, institution) by its key."""


class IntegrationChange(NamedTuple):
    """One line of a directory update: integrate (merge), end, or remove a period.

    A named tuple rather than a dataclass: a bulk load makes millions, and passes them between
    processes (see `directory_lines`), where a tuple is several times cheaper to build and pickle.
    """

    op: str  # "integrate" | "end" | "remove"
    subject_key: bytes
    institution: str
    capacity: str
    phase: Phase = Phase.DEFINITIVE
    period: Period | None = None  # integrate/remove: the period; None removes all
    end: date | None = None  # end: the last day


class DirectoryRepository(abc.ABC):
    @abc.abstractmethod
    async def apply(self, changes: list[IntegrationChange]) -> None:
        """Apply the changes in order, atomically, merging periods as `domain.periods` says."""

    @abc.abstractmethod
    async def held_by(self, subject_key: bytes, institution: str) -> list[Integration]: ...

    @abc.abstractmethod
    async def holders(self, subject_key: bytes, capacity: str | None = None) -> list[Integration]: ...

    @abc.abstractmethod
    async def holders_of(self, subject_keys: list[bytes]) -> dict[bytes, list[Integration]]:
        """`holders` of many persons at once (a batch of mutations); persons nobody holds are absent."""

    @abc.abstractmethod
    async def count(self) -> int: ...


class AuditLog(abc.ABC):
    @abc.abstractmethod
    async def append(self, record: AuditRecord) -> int:
        """Append durably and return the entry's index; returns only once the entry is committed."""

    @abc.abstractmethod
    async def append_many(self, records: list[AuditRecord]) -> list[int]:
        """`append` for several records at once, committed together (all or none), their
        indexes in order; one wait for the caller instead of one per record."""

    @abc.abstractmethod
    async def read(self, start: int = 0, limit: int = 1000) -> list[tuple[int, bytes]]:
        """Entries in index order from `start`: (index, canonical record bytes)."""

    @abc.abstractmethod
    async def count(self) -> int: ...


class TransparencyLog(abc.ABC):
    """The audit log's Merkle tree in the store: leaf indexes, subtree hashes, signed tree heads."""

    @abc.abstractmethod
    async def size(self) -> int:
        """How many entries have a leaf index (the tree's size)."""

    @abc.abstractmethod
    async def unsequenced(self, limit: int) -> list[tuple[int, bytes]]:
        """Committed entries without a leaf index yet, oldest first: (seq, canonical record)."""

    @abc.abstractmethod
    async def sequence(self, first_index: int, seqs: list[int], nodes: list[tuple[int, int, bytes]]) -> bool:
        """Give `seqs` the leaf indexes from `first_index` on and keep `nodes` (level, position,
        hash; level 0 are the leaves), in one transaction. False, changing nothing, when the tree
        no longer has `first_index` entries (another sequencer went first)."""

    @abc.abstractmethod
    async def nodes(self, wanted: list[Node]) -> dict[Node, bytes]:
        """The stored hashes of these complete subtrees (one round trip)."""

    @abc.abstractmethod
    async def entry(self, leaf_index: int) -> bytes | None:
        """The canonical record at a leaf index."""

    @abc.abstractmethod
    async def entries(self, start: int, limit: int) -> list[tuple[int, bytes]]:
        """Sequenced entries in leaf order from `start`: (leaf index, canonical record)."""

    @abc.abstractmethod
    async def about_subject(self, subject_key: bytes, before_seq: int | None, limit: int) -> list[tuple[int, int | None, bytes]]:
        """Entries logged under a subject's keyed hash, newest first, older than `before_seq` when
        given: (seq, leaf index or None while unsequenced, canonical record). Served from an index
        on the keyed hash; no identifier is stored in clear."""

    @abc.abstractmethod
    async def level_nodes(self, level: int, start: int, end: int) -> dict[int, bytes]:
        """The stored hashes of one level, by position, for positions start ≤ p < end."""

    @abc.abstractmethod
    async def heads(self) -> list[TreeHead]:
        """Every signed tree head, smallest first."""

    @abc.abstractmethod
    async def put_head(self, head: TreeHead) -> None: ...

    @abc.abstractmethod
    async def latest_head(self) -> TreeHead | None: ...

    @abc.abstractmethod
    async def head(self, tree_size: int) -> TreeHead | None: ...

    @abc.abstractmethod
    async def put_cosignature(self, tree_size: int, witness: str, cosignature: str) -> None:
        """Keep a witness's countersignature of the head of `tree_size` (once per witness)."""

    @abc.abstractmethod
    async def cosignatures(self, tree_size: int) -> dict[str, str]:
        """The countersignatures of the head of `tree_size`, by witness URL."""

    @abc.abstractmethod
    async def segments(self) -> list[Segment]:
        """The exported archive segments, in leaf order."""

    @abc.abstractmethod
    async def add_segment(self, segment: Segment) -> None: ...

    @abc.abstractmethod
    async def retained_from(self) -> int:
        """The first leaf index the live store still holds (0 until segments are pruned)."""

    @abc.abstractmethod
    async def prune(self, up_to: int, keep: list[Node], at_ms: int) -> int:
        """Remove the entries below leaf `up_to` and the stored hashes wholly below it except
        `keep` (the roots the remaining tree is built on); mark the segments up to it pruned.
        The mark is committed first, so a prune cut short by a crash is finished by the next.
        Returns how many entries were removed."""


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


class ReplayGuard(abc.ABC):
    @abc.abstractmethod
    async def first_use(self, jti: str, expires_at: int) -> bool:
        """Record a client assertion id; False when it was seen before (a replay)."""


@dataclass(frozen=True)
class ProviderReply:
    status: int
    body: bytes
    content_type: str


class ProviderClient(abc.ABC):
    @abc.abstractmethod
    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> ProviderReply:
        """POST to a provider. Raises Refusal provider_unavailable or provider_timeout."""

    async def close(self) -> None:
        """Release pooled connections."""


@dataclass(frozen=True)
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


class MutationStore(abc.ABC):
    """Mutation types, subscriptions, accepted mutations and the outbox of their deliveries."""

    @abc.abstractmethod
    async def put_type(self, mutation_type: MutationType) -> bool:
        """Create or replace; True when created."""

    @abc.abstractmethod
    async def get_type(self, code: str, version: str | None = None) -> MutationType | None:
        """The named version, or the highest version (compared as numbers where they are) when None."""

    @abc.abstractmethod
    async def list_types(self) -> list[MutationType]: ...

    @abc.abstractmethod
    async def add_subscription(self, subscription: Subscription) -> bool:
        """False when the application already subscribes to the type (nothing is changed)."""

    @abc.abstractmethod
    async def subscriptions(self, *, mutation_type: str | None = None, institution: str | None = None,
                            application: str | None = None) -> list[Subscription]: ...

    @abc.abstractmethod
    async def delete_subscription(self, subscription_id: str) -> bool:
        """Remove it, and its deliveries not yet received."""

    @abc.abstractmethod
    async def publish(self, mutation: Mutation, digest: bytes, deliveries: list[tuple[str, bytes]]) -> bytes | None:
        """Store the mutation and its deliveries (subscription id, message) in one transaction.

        Returns None when stored; when the publisher already used the id, stores nothing and
        returns the digest accepted then.
        """

    @abc.abstractmethod
    async def publish_many(self, items: list[tuple[Mutation, bytes, list[tuple[str, bytes]]]]) -> list[bytes | None]:
        """`publish` for each item, all in one transaction; the outcomes in order."""

    @abc.abstractmethod
    async def digests(self, publisher: str, ids: list[str]) -> dict[str, bytes]:
        """The digests of the publisher's mutations among `ids` already accepted."""

    @abc.abstractmethod
    async def mailbox(self, institution: str, application: str, after: int, limit: int, *,
                      mutation_type: str | None = None, mutation_id: str | None = None) -> list[Delivery]:
        """Unacknowledged deliveries of the application's pull subscriptions with seq > after, in
        seq order; of one mutation type, or of one mutation, when named."""

    @abc.abstractmethod
    async def unacknowledged(self, institution: str, application: str, seqs: list[int]) -> list[Delivery]:
        """The application's deliveries among `seqs` not yet acknowledged, in seq order."""

    @abc.abstractmethod
    async def ack(self, institution: str, application: str, seqs: list[int], at_ms: int) -> int:
        """Acknowledge the application's deliveries among `seqs`; return how many were acknowledged now."""

    @abc.abstractmethod
    async def due_pushes(self, subscription: str, now_ms: int, limit: int) -> list[Delivery]:
        """The subscription's oldest waiting deliveries (not acknowledged, not dead), up to `limit`,
        when the oldest one's next attempt is due; otherwise none (delivery keeps the order)."""

    @abc.abstractmethod
    async def delivered(self, seqs: list[int], at_ms: int) -> None:
        """Mark pushed deliveries as received (the subscriber's webhook accepted them)."""

    @abc.abstractmethod
    async def failed(self, seqs: list[int], error: str, next_attempt_ms: int, dead_at_ms: int | None) -> None:
        """Count one failed attempt; wait until `next_attempt_ms`, or set them aside as dead letters."""

    @abc.abstractmethod
    async def dead_letters(self, limit: int) -> list[Delivery]: ...

    @abc.abstractmethod
    async def replay(self, seqs: list[int]) -> list[int]:
        """Put dead letters among `seqs` back in their queue, due now, with their attempts reset;
        the seqs put back."""

    @abc.abstractmethod
    async def deliveries(self, seqs: list[int]) -> list[Delivery]:
        """The deliveries among `seqs` (any state), in seq order."""

    @abc.abstractmethod
    async def push_deliveries_after(self, after: int, limit: int) -> list[Delivery]:
        """Deliveries of push subscriptions with seq > after, in seq order (what a relay feeds on).
        Seq order is commit order: a row with a lower seq never becomes visible later."""

    @abc.abstractmethod
    async def relay_position(self, name: str) -> int:
        """The last seq the relay `name` fed on (0 before its first)."""

    @abc.abstractmethod
    async def set_relay_position(self, name: str, position: int) -> None: ...


class PushQueue(abc.ABC):
    """Where a push subscription's deliveries wait for its webhook: the outbox itself, or a
    stream the outbox feeds. The dispatcher (services/push.py) takes the oldest due ones, in
    order, and says how each attempt went; the queue keeps the attempts and the order."""

    waits: bool = False  # True when `due` itself waits a little for a first message (a long poll)
    feed_batch: int = 1  # most a `feed` brings at once: one that brought fewer left nothing behind

    @abc.abstractmethod
    async def feed(self) -> int:
        """Bring what the outbox accepted since the last call into the queue; how many. The
        caller feeds again at once only after a full `feed_batch`, otherwise after its interval."""

    @abc.abstractmethod
    async def due(self, subscription: Subscription, now_ms: int, limit: int) -> list[Delivery]:
        """The subscription's oldest waiting deliveries, up to `limit`, when the oldest one's next
        attempt is due; otherwise none. `attempts` counts the failed attempts before this one."""

    @abc.abstractmethod
    async def delivered(self, subscription: Subscription, due: list[Delivery], at_ms: int) -> None:
        """The webhook accepted `due`, all of it, in one answer."""

    @abc.abstractmethod
    async def failed(self, subscription: Subscription, due: list[Delivery], error: str, next_attempt_ms: int,
                     dead_at_ms: int | None) -> None:
        """One more failed attempt of `due`: wait until `next_attempt_ms`, or set them aside as
        dead letters (in the outbox, where the operator sees them)."""

    @abc.abstractmethod
    async def requeue(self, seqs: list[int]) -> None:
        """Dead letters the outbox has just put back (replay): queue them again, due now."""

    @abc.abstractmethod
    async def forget(self, subscription_id: str) -> None:
        """The subscription is gone: drop what the queue holds for it."""

    @abc.abstractmethod
    async def release(self, subscription_id: str | None = None) -> None:
        """This process stops delivering one subscription (another process delivers it now), or
        all of them; what it was handed goes back."""

    @abc.abstractmethod
    async def close(self) -> None: ...


class DeclarationStore(abc.ABC):
    """The declarations service's records: employers and mandates, declarations, the DIMONA
    periods and quarterly wages they establish, batch files, and the mutations to publish."""

    @abc.abstractmethod
    async def put_employer(self, employer: Employer) -> bool:
        """Create or replace; True when created."""

    @abc.abstractmethod
    async def find_employer(self, ref: EmployerRef) -> Employer | None:
        """By enterprise number (checked against the NOSS number when both are given), else by NOSS number."""

    @abc.abstractmethod
    async def put_mandate(self, office: str, employer: str, valid_from: date, valid_to: date | None) -> None: ...

    @abc.abstractmethod
    async def has_mandate(self, office: str, employer: str, day: date) -> bool: ...

    @abc.abstractmethod
    async def list_employers(self, after: str, limit: int) -> list[Employer]:
        """Employers by enterprise number, from the first after `after` ("" for the first page)."""

    @abc.abstractmethod
    async def list_mandates(self, office: str | None, employer: str | None,
                            after: tuple[str, str, date] | None, limit: int) -> list[Mandate]:
        """Mandates by (office, employer, valid_from), after `after`; of one office or employer
        when given."""

    @abc.abstractmethod
    async def record_dimona(self, employer: str | None, inss: str | None, period_id: int | None,
                            decide: Callable[[list[DimonaPeriod], DimonaPeriod | None], Decision],
                            describe: Callable[[Decision, DimonaPeriod | None], tuple[Declaration, list[Event]]],
                            ) -> tuple[Declaration, DimonaPeriod | None]:
        """In one transaction, serialised per employer and worker: read the worker's periods with
        the employer and the period named by id, `decide`, store the period it creates or
        changes, then the declaration and the events `describe` makes of it."""

    @abc.abstractmethod
    async def periods_of(self, inss: str) -> list[DimonaPeriod]: ...

    @abc.abstractmethod
    async def employer_periods(self, employer: str, first: date, last: date) -> dict[str, list[DimonaPeriod]]:
        """The employer's periods overlapping first … last, by INSS."""

    @abc.abstractmethod
    async def record(self, declaration: Declaration, events: list[Event],
                     wages: tuple[int, str, list[WorkerSummary]] | None = None) -> Declaration: ...

    @abc.abstractmethod
    async def declaration(self, declaration_id: int) -> Declaration | None: ...

    @abc.abstractmethod
    async def batch_declarations(self, batch_id: int) -> list[Declaration]: ...

    @abc.abstractmethod
    async def social_risks_of(self, inss: str) -> list[Declaration]: ...

    @abc.abstractmethod
    async def wages_of(self, inss: str) -> list[dict]: ...

    @abc.abstractmethod
    async def add_batch(self, declarant: str, kind: str, sha256: str, content_type: str, body: bytes,
                        language: str, at_ms: int, admit: Callable[[QueueShare], None]) -> tuple[Batch, bool]:
        """(the batch, True) for a new file; (the earlier batch, False) for the same file (same
        kind and SHA-256) from the same institution again, unless that one failed on the hub's
        side. Before storing a new file, `admit` is called with what the institution already has
        waiting, atomically with the insert; it raises to refuse the file."""

    @abc.abstractmethod
    async def batch(self, batch_id: int) -> Batch | None: ...

    @abc.abstractmethod
    async def batch_body(self, batch_id: int) -> bytes | None:
        """The file of a waiting batch (None once it is done)."""

    @abc.abstractmethod
    async def next_batch(self) -> Batch | None:
        """The waiting batch to work on next: institutions in turn, each one's files oldest first."""

    @abc.abstractmethod
    async def start_batch(self, batch_id: int, at_ms: int) -> int:
        """Durably count one more attempt at a waiting batch; the number of attempts so far."""

    @abc.abstractmethod
    async def finish_batch(self, batch_id: int, status: str, acknowledgement: dict, at_ms: int, failed: bool = False) -> bool: ...

    @abc.abstractmethod
    async def pending_events(self, limit: int) -> list[PendingEvent]: ...

    @abc.abstractmethod
    async def mark_published(self, seqs: list[int]) -> None: ...

    @abc.abstractmethod
    async def backlog(self) -> tuple[int, int]:
        """(batch files waiting, events not yet published)."""


class OfficialForms(abc.ABC):
    """The official formats of the social security: a document (XML bytes, or its JSON form as
    a dict) read into the domain's values, or the schema's anomalies when it breaks the schema.

    Raises Refusal (malformed_xml, forbidden_xml, payload_too_large) for a document that cannot
    be read at all."""

    @abc.abstractmethod
    def read_dimona(self, document: bytes | dict) -> tuple[list[DimonaForm], list[Anomaly]]: ...

    @abc.abstractmethod
    def read_dmfa(self, document: bytes | dict) -> tuple[DmfaDeclaration | None, list[Anomaly]]: ...


class WorkerLost(Exception):
    """The process working on a batch stopped before it finished (killed, out of memory)."""


class BatchFailed(Exception):
    """Processing a batch raised; the message holds the worker's traceback."""


class BatchWorker(abc.ABC):
    """Processes one batch file at a time, away from the process that serves requests."""

    @abc.abstractmethod
    async def start(self) -> None:
        """Make sure the worker is up; raises when it cannot be started."""

    @abc.abstractmethod
    async def process(self, batch_id: int) -> None:
        """Process the batch to its end; raises BatchFailed or WorkerLost."""

    @abc.abstractmethod
    async def close(self) -> None: ...


class Store(abc.ABC):
    """The storage adapter as a whole: one object to open, migrate, check and close."""

    registry: RegistryRepository
    directory: DirectoryRepository
    audit: AuditLog
    transparency: TransparencyLog
    replay: ReplayGuard
    mutations: MutationStore
    declarations: DeclarationStore

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise when the store cannot be reached."""

    @abc.abstractmethod
    async def close(self) -> None: ...


class Signer(abc.ABC):
    """The hub's keys (adapters.keys.HubKeys implements it)."""

    @abc.abstractmethod
    def issue_token(self, claims: dict) -> str: ...

    @abc.abstractmethod
    def verify_token(self, token: str, now: float) -> dict:
        """Claims of a token this hub signed, well-typed and current at `now`; Refusal otherwise."""

    @abc.abstractmethod
    def sign_detached(self, payload: bytes, protected: dict) -> str: ...

    @abc.abstractmethod
    def verify_client_assertion(self, assertion: str, jwks: dict, now: float) -> dict:
        """Claims of an assertion signed with one of `jwks`, well-typed and current at `now`;
        Refusal("invalid_client") otherwise."""

    @abc.abstractmethod
    def jwks(self) -> dict: ...
