"""Mutation use cases: the catalogue of types, subscriptions, publishing with fan-out, the mailbox.

Publishing computes the recipients from the reference directory as of the mutation's effective
date (`domain.mutations.entitled`) and writes the mutation and one outbox row per recipient in
one transaction: once the publisher has its answer, every delivery exists. Each recipient's
message is a CloudEvent 1.0 holding only the fields its authorization allows.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import jsonschema_rs
import orjson
from jsonschema import Draft202012Validator, SchemaError

from ..domain.audit import AuditRecord
from ..domain.callers import Caller
from ..domain.directory import Holding
from ..domain.errors import Refusal
from ..domain.identifiers import IdentifierScheme
from ..domain.minimisation import PathTree, minimise, path_tree
from ..domain.mutations import (
    Mutation,
    MutationType,
    Subscription,
    candidates,
    entitled_among,
    event_type,
    peer_of,
)
from ..domain.periods import parse_date
from ..domain.registry import Authorization, check_code, choose_authorization
from ..domain.subjects import SubjectHasher
from ..domain.webhooks import WebhookPolicy
from .arrivals import Arrivals
from .clock import Clock
from .peer_membership import peer_still_holds
from .ports import (
    AuditLog,
    Delivery,
    DirectoryRepository,
    MutationStore,
    PushQueue,
    RegistryRepository,
)
from .registry_cache import RegistryCache
from .schema_check import first_error

MUTATION_FIELDS = frozenset({"id", "subject", "effective_date", "payload", "version"})
MAX_MAILBOX_PAGE = 1000
# Stores accepted mutations and their deliveries: MutationStore.publish_many, or a caller's own.
StoreWrite = Callable[
    [list[tuple[Mutation, bytes, list[tuple[str, bytes]]]]], Awaitable[list[bytes | None]]
]
# A mutation type's candidate subscriptions with their authorizations (`candidates`), the tree of
# each one's allowed fields (`path_tree`) and the integration rights, read and made once per batch.
_TypeSubscriptions = tuple[
    list[tuple[Subscription, Authorization]], dict[str, PathTree], Mapping[str, frozenset[str]]
]


@dataclass(frozen=True)
class Published:
    id: str
    status: str  # "accepted" | "duplicate"
    recipients: int | None  # None for a duplicate: its recipients were counted when it was accepted


class MutationService:
    def __init__(
        self,
        store: MutationStore,
        registry: RegistryRepository,
        directory: DirectoryRepository,
        audit: AuditLog,
        clock: Clock,
        scheme: IdentifierScheme,
        hasher: SubjectHasher,
        cache: RegistryCache,
        push_queue: PushQueue,
        webhooks: WebhookPolicy,
        arrivals: Arrivals | None = None,
    ) -> None:
        """`arrivals`: told of each message committed to a pull mailbox (services/arrivals.py),
        so that a reader in this process need not wait for its next poll."""
        self._arrivals = arrivals
        self._store = store
        self._webhooks = webhooks
        self._push_queue = push_queue
        self._registry = registry
        self._directory = directory
        self._audit = audit
        self._clock = clock
        self._scheme = scheme
        self._hasher = hasher
        self._cache = cache

    # The catalogue (operator) -------------------------------------------------------------

    async def put_type(
        self, mutation_type: MutationType, actor: str | None = None
    ) -> tuple[MutationType, bool]:
        """Register a mutation type, audited with the operator's id (`actor`)."""
        publisher = self._scheme.normalise_enterprise(mutation_type.publisher, "publisher")
        if await self._registry.get_institution(publisher) is None:
            raise Refusal("not_found", f"no institution {publisher} is registered.", "publisher")
        try:
            Draft202012Validator.check_schema(mutation_type.schema)
        except SchemaError as exc:
            raise Refusal(
                "malformed_request", f"schema is not a valid JSON Schema: {exc.message}", "schema"
            ) from None
        try:  # the validator publishing uses must accept it too (e.g. its regular expressions)
            jsonschema_rs.validator_for(mutation_type.schema)
        except (ValueError, jsonschema_rs.ValidationError) as exc:
            raise Refusal(
                "malformed_request", f"schema cannot be compiled: {str(exc)[:200]}", "schema"
            ) from None
        mutation_type = replace(mutation_type, publisher=publisher)
        created = await self._store.put_type(mutation_type)
        await self._audit.append(
            AuditRecord(
                kind="registry",
                at_ms=self._clock.now_ms(),
                outcome="ok",
                action=f"mutation_type.{'create' if created else 'update'}",
                target=f"{mutation_type.code}/{mutation_type.version}",
                detail={"publisher": publisher},
                actor=actor,
            )
        )
        return mutation_type, created

    async def delete_type(self, code: str, actor: str | None = None) -> None:
        """Remove every version of a type that nothing depends on: a type some application
        subscribes to, or that an authorization names, is refused (`conflict`)."""
        kind = await self.mutation_type(code)
        if await self._store.subscriptions(mutation_type=kind.code):
            raise Refusal(
                "conflict",
                f"applications subscribe to {kind.code}: cancel them first.",
                "eventType",
            )
        if await self._registry.find_authorizations(service=kind.code):
            raise Refusal(
                "conflict",
                f"authorizations name {kind.code}: withdraw them first.",
                "eventType",
            )
        await self._store.delete_type(kind.code)
        await self._audit.append(
            AuditRecord(
                kind="registry",
                at_ms=self._clock.now_ms(),
                outcome="ok",
                action="mutation_type.delete",
                target=kind.code,
                detail={"publisher": kind.publisher},
                actor=actor,
            )
        )

    async def has_type(self, code: str) -> bool:
        return await self._store.get_type(code) is not None

    async def mutation_type(self, code: str, version: str | None = None) -> MutationType:
        found = await self._store.get_type(code, version)
        if found is None:
            named = f" version {version}" if version else ""
            raise Refusal(
                "unknown_mutation_type",
                f"no mutation type {code!r}{named} is registered.",
                "mutation_type",
            )
        return found

    # Subscriptions (applications) ---------------------------------------------------------

    async def subscribe(
        self,
        caller: Caller,
        mutation_type: str,
        purpose: str,
        authorization: str | None,
        mode: str,
        webhook_url: str | None,
    ) -> Subscription:
        institution, application = _member(caller)
        kind = await self.mutation_type(mutation_type)
        check_code(purpose, "purpose")
        candidates = await self._registry.find_authorizations(institution, kind.code, purpose)
        chosen = choose_authorization(candidates, self._clock.today(), authorization)
        if webhook_url is not None:
            member = await self._registry.get_institution(institution)
            if member is None:
                raise Refusal(
                    "not_found", f"no institution {institution} is registered.", "institution"
                )
            self._webhooks.check(webhook_url, member)
        subscription = Subscription(
            id=str(uuid.uuid4()),
            institution=institution,
            application=application,
            mutation_type=kind.code,
            authorization=chosen.reference,
            mode=mode,
            webhook_url=webhook_url,
            created_at_ms=self._clock.now_ms(),
        )
        if not await self._store.add_subscription(subscription):
            raise Refusal(
                "conflict",
                f"application {caller.client_id} already subscribes to {kind.code}.",
                "mutation_type",
            )
        await self._record_subscription(caller, "create", subscription)
        return subscription

    async def amend_subscription(
        self,
        caller: Caller,
        mutation_type: str,
        purpose: str | None,
        authorization: str | None,
        webhook_url: str | None,
    ) -> Subscription:
        """Change the caller's subscription to a type: the authorization it is under (chosen
        again for `purpose`, as when subscribing) and, for a push subscription, its webhook."""
        institution, _ = _member(caller)
        current = await self.subscription_to(caller, mutation_type)
        chosen = current.authorization
        if purpose is not None or authorization is not None:
            if purpose is not None:
                check_code(purpose, "purpose")
            candidates = await self._registry.find_authorizations(
                institution, current.mutation_type, purpose
            )
            chosen = choose_authorization(candidates, self._clock.today(), authorization).reference
        address = current.webhook_url
        if webhook_url is not None:
            if current.mode != "push":
                raise Refusal(
                    "malformed_request", "a pull subscription has no webhook.", "webhook_url"
                )
            member = await self._registry.get_institution(institution)
            if member is None:
                raise Refusal("not_found", f"no institution {institution} is registered.")
            self._webhooks.check(webhook_url, member)
            address = webhook_url
        amended = replace(current, authorization=chosen, webhook_url=address)
        if not await self._store.update_subscription(amended):
            raise Refusal("not_found", f"the subscription to {mutation_type} was just cancelled.")
        await self._record_subscription(caller, "update", amended)
        return amended

    async def subscription_to(self, caller: Caller, mutation_type: str) -> Subscription:
        """The caller's subscription to a type; `not_found` when it has none."""
        institution, application = _member(caller)
        found = await self._store.subscriptions(
            mutation_type=mutation_type, institution=institution, application=application
        )
        if not found:
            raise Refusal(
                "not_found",
                f"application {caller.client_id} does not subscribe to {mutation_type[:64]!r}.",
                "eventType",
            )
        return found[0]

    async def check_push(self, subscription: Subscription) -> None:
        """Refuse a push the registry no longer allows, for each batch: a peer hub's
        subscription whose member is no longer recorded as that peer's (`not_peer_member`: what
        was queued before the record changed is not sent), or a webhook address the member may
        no longer use (check_webhook)."""
        if not await peer_still_holds(self._cache, subscription):
            raise Refusal(
                "not_peer_member",
                f"institution {subscription.institution} is not registered in this hub as a "
                f"member of peer {peer_of(subscription)}.",
            )
        await self.check_webhook(subscription.webhook_url or "", subscription.institution)

    async def check_webhook(self, url: str, institution: str) -> None:
        """Refuse (`webhook_not_allowed`) a webhook address the registry does not, or no longer,
        let `institution` use; read through the registry cache, for every push."""
        member = await self._cache.institution(institution)
        if member is None:
            raise Refusal(
                "webhook_not_allowed", f"institution {institution} is no longer registered."
            )
        self._webhooks.check(url, member)

    async def subscriptions(self, caller: Caller) -> list[Subscription]:
        institution, application = _member(caller)
        return await self._store.subscriptions(institution=institution, application=application)

    async def unsubscribe(self, caller: Caller, subscription_id: str) -> None:
        mine = {s.id: s for s in await self.subscriptions(caller)}
        if subscription_id not in mine or not await self._store.delete_subscription(
            subscription_id
        ):
            raise Refusal(
                "not_found",
                f"application {caller.client_id} has no subscription {subscription_id[:64]!r}.",
                "subscription",
            )
        await self._record_subscription(caller, "delete", mine[subscription_id])

    async def _record_subscription(
        self, caller: Caller, action: str, subscription: Subscription
    ) -> None:
        await self._audit.append(
            AuditRecord(
                kind="mutation",
                at_ms=self._clock.now_ms(),
                outcome="ok",
                action=f"subscription.{action}",
                consumer=caller.institution,
                application=caller.application,
                service=subscription.mutation_type,
                authorization=subscription.authorization,
                target=subscription.id,
                detail={"mode": subscription.mode},
            )
        )

    # Publishing (authentic sources) -------------------------------------------------------

    async def publish(self, caller: Caller, type_code: str, raw: object) -> Published:
        """Accept one mutation and fan it out; the same id again is a `duplicate`, accepted once."""
        [outcome] = await self.publish_many(caller, type_code, [raw])
        if isinstance(outcome, Refusal):
            raise outcome
        return outcome

    async def accepted(self, caller: Caller, mutation_id: str) -> None:
        """Whether the caller's institution published a mutation under this id; `not_found`
        when it did not."""
        publisher, _ = _member(caller)
        if not await self._store.digests(publisher, [mutation_id]):
            raise Refusal(
                "not_found", f"{publisher} published no mutation {mutation_id[:100]!r}.", "eventId"
            )

    async def publish_many(
        self, caller: Caller, type_code: str, raws: Sequence[object]
    ) -> list[Published | Refusal]:
        """Accept a batch in one transaction: each mutation is accepted, a duplicate, or refused on
        its own (its Refusal in its place), an unknown `version` included. Refusals that concern
        the whole batch are raised: a type code with no version registered, or whose latest
        version another institution publishes.

        Accepted mutations are audited before they are stored: should the store then fail, the
        publisher gets the error and retries, and the log holds the publication twice rather
        than not at all.
        """
        return await self.publish_together(caller, [(type_code, raw) for raw in raws], [type_code])

    async def publish_together(
        self,
        caller: Caller,
        items: Sequence[tuple[str, object]],
        type_codes: Sequence[str] = (),
        write: StoreWrite | None = None,
    ) -> list[Published | Refusal]:
        """`publish_many` for mutations of several types (`(type code, mutation)` pairs), in one
        audit commit and one transaction; the whole batch is refused as `publish_many` refuses
        it for any of their types, or of `type_codes`.

        `write`, when given, stores the accepted mutations and their deliveries in the caller's
        own transaction instead of the mutation store's (`MutationStore.publish_many`'s contract):
        the rights engine stores each decision with the mutation that announces it, together or
        not at all. It is called once, after the audit, with the mutations not already stored.
        """
        publisher, _ = _member(caller)
        kinds: dict[str, dict[str | None, MutationType]] = {}
        for code in dict.fromkeys([*type_codes, *(code for code, _ in items)]):
            latest = await self.mutation_type(code)
            _check_publisher(latest, publisher)
            kinds[code] = {None: latest}
        prepared: list[tuple[Mutation, bytes] | Refusal] = []
        for type_code, raw in items:
            try:
                prepared.append(await self._prepare(publisher, type_code, raw, kinds[type_code]))
            except Refusal as refusal:
                prepared.append(refusal)
        fresh = [item for item in prepared if not isinstance(item, Refusal)]
        earlier = await self._store.digests(publisher, [m.id for m, _ in fresh])
        outcomes: dict[int, Published | Refusal] = {}
        candidates: list[tuple[int, Mutation, bytes]] = []
        seen: set[str] = set()
        subscribers: dict[str, _TypeSubscriptions] = {}
        for index, item in enumerate(prepared):
            if isinstance(item, Refusal):
                outcomes[index] = item
                continue
            mutation, digest = item
            known = earlier.get(mutation.id) or (digest if mutation.id in seen else None)
            if known is not None:
                outcomes[index] = (
                    Published(mutation.id, "duplicate", None)
                    if known == digest
                    else Refusal(
                        "conflict",
                        f"mutation id {mutation.id!r} was already used for a different mutation.",
                        "id",
                    )
                )
                continue
            seen.add(mutation.id)
            candidates.append((index, mutation, digest))
        # The directory is read once for the whole batch, not once per mutation.
        holders = (
            await self._directory.holders_of(
                [mutation.subject_key for _, mutation, _ in candidates]
            )
            if candidates
            else {}
        )
        to_store = [
            (
                index,
                mutation,
                digest,
                await self._recipients(
                    mutation, subscribers, holders.get(mutation.subject_key, [])
                ),
            )
            for index, mutation, digest in candidates
        ]
        sent: dict[tuple[str, ...], tuple[list[str], list[dict[str, str]]]] = {}
        await self._audit.append_many(
            [
                AuditRecord(
                    kind="mutation",
                    at_ms=mutation.published_at_ms,
                    outcome="ok",
                    action="mutation.publish",
                    consumer=publisher,
                    application=caller.application,
                    service=f"{mutation.type}/{mutation.version}",
                    subject_hash=mutation.subject_key.hex(),
                    target=mutation.id,
                    detail={
                        "effective_date": mutation.effective.isoformat(),
                        **_recipients_detail(recipients, sent),
                    },
                )
                for _, mutation, _, recipients in to_store
            ]
        )
        stored = await (write or self._store.publish_many)(
            [
                (mutation, digest, [(s.id, message) for s, message in recipients])
                for _, mutation, digest, recipients in to_store
            ]
        )
        if self._arrivals is not None:
            self._arrivals.ring(
                (s.institution, s.application)
                for (_, _, _, recipients), race in zip(to_store, stored, strict=True)
                if race is None
                for s, _ in recipients
                if s.mode == "pull"
            )
        for (index, mutation, digest, recipients), race in zip(to_store, stored, strict=True):
            if race is None:
                outcomes[index] = Published(mutation.id, "accepted", len(recipients))
            else:  # published concurrently by another request since the check above
                outcomes[index] = (
                    Published(mutation.id, "duplicate", None)
                    if race == digest
                    else Refusal(
                        "conflict",
                        f"mutation id {mutation.id!r} was already used for a different mutation.",
                        "id",
                    )
                )
        return [outcomes[index] for index in range(len(prepared))]

    async def _prepare(
        self, publisher: str, type_code: str, raw: object, kinds: dict[str | None, MutationType]
    ) -> tuple[Mutation, bytes]:
        """One mutation as accepted, and the digest that tells a retry from another mutation."""
        if not isinstance(raw, dict):
            raise Refusal("malformed_request", "a mutation is a JSON object.")
        unknown = sorted(set(raw) - MUTATION_FIELDS)
        if unknown:
            raise Refusal("malformed_request", f"unknown field {unknown[0]}.", unknown[0])
        version = raw.get("version")
        if version is not None and not isinstance(version, str):
            raise Refusal("malformed_request", "version is a string.", "version")
        if version not in kinds:
            found = await self._store.get_type(type_code, version)
            if found is None:
                raise Refusal(
                    "unknown_mutation_type",  # (never None here: kinds holds the latest)
                    f"{type_code!r} has no version {str(version)[:64]!r}.",
                    "version",
                )
            kinds[version] = found
        kind = kinds[version]
        _check_publisher(kind, publisher, "version" if version is not None else "mutation_type")
        mutation_id = raw.get("id")
        if (
            not isinstance(mutation_id, str)
            or not 0 < len(mutation_id) <= 100
            or not mutation_id.isprintable()
        ):
            raise Refusal(
                "malformed_request",
                "id is 1 to 100 printable characters, unique per publisher.",
                "id",
            )
        subject = self._scheme.normalise_person(raw.get("subject"), "subject")
        if raw.get("effective_date") is None:
            raise Refusal(
                "malformed_request", "effective_date is required (YYYY-MM-DD).", "effective_date"
            )
        effective = parse_date(raw["effective_date"], "effective_date")
        payload = raw.get("payload", {})
        self._validate(kind, payload)
        try:
            digest = hashlib.sha256(
                orjson.dumps(
                    [kind.code, kind.version, subject, effective.isoformat(), payload],
                    option=orjson.OPT_SORT_KEYS,
                )
            ).digest()
        except orjson.JSONEncodeError:  # JSON allows any integer; the messages carry 64-bit ones
            raise Refusal(
                "malformed_request", "payload holds a number beyond the 64-bit range.", "payload"
            ) from None
        mutation = Mutation(
            id=mutation_id,
            type=kind.code,
            version=kind.version,
            publisher=publisher,
            subject=subject,
            subject_key=self._hasher.key(subject),
            effective=effective,
            payload=payload,
            published_at_ms=self._clock.now_ms(),
        )
        return mutation, digest

    async def _recipients(
        self, mutation: Mutation, known: dict[str, _TypeSubscriptions], holders: list[Holding]
    ) -> list[tuple[Subscription, bytes]]:
        """Who receives `mutation`, and what, given the person's `holders`; `known` keeps, for
        the rest of a batch, each type's candidate subscriptions (what does not depend on the
        person: `domain.mutations.candidates`, as of the batch's day), the tree of each one's
        allowed fields, and the registry's integration rights."""
        if mutation.type not in known:
            subscriptions = [
                s
                for s in await self._store.subscriptions(mutation_type=mutation.type)
                if await peer_still_holds(self._cache, s)
            ]
            authorizations = {}
            for reference in {s.authorization for s in subscriptions}:
                found = await self._cache.authorization(reference)
                if found is not None:
                    authorizations[reference] = found
            trees = {r: path_tree(a.allowed_fields) for r, a in authorizations.items()}
            chosen_today = candidates(
                subscriptions, authorizations, mutation.type, self._clock.today()
            )
            known[mutation.type] = (chosen_today, trees, await self._cache.integration_rights())
        chosen_today, trees, granted = known[mutation.type]
        if not chosen_today:
            return []
        chosen = entitled_among(chosen_today, holders, mutation.effective, granted)
        if not chosen:
            return []
        envelope = _envelope(mutation)
        return [
            (
                subscription,
                _message(
                    envelope,
                    minimise(mutation.payload, trees[subscription.authorization]),
                    authorization.reference,
                ),
            )
            for subscription, authorization in chosen
        ]

    def _validate(self, kind: MutationType, payload: object) -> None:
        check_payload(kind, payload)

    # The mailbox (pull subscriptions) -----------------------------------------------------

    async def mailbox(self, caller: Caller, after: int, limit: int) -> list[Delivery]:
        institution, application = _member(caller)
        if not 1 <= limit <= MAX_MAILBOX_PAGE:
            raise Refusal(
                "malformed_request", f"limit is between 1 and {MAX_MAILBOX_PAGE}.", "limit"
            )
        if after < 0:
            raise Refusal("malformed_request", "after is a sequence number, 0 or more.", "after")
        return await self._store.mailbox(institution, application, after, limit)

    async def next_of_type(self, caller: Caller, mutation_type: str) -> Delivery:
        """The oldest unacknowledged message of one type (GovStack's pull-next); not_found when
        none."""
        institution, application = _member(caller)
        found = await self._store.mailbox(
            institution, application, 0, 1, mutation_type=mutation_type
        )
        if not found:
            raise Refusal(
                "not_found", f"no unacknowledged {mutation_type} message for {caller.client_id}."
            )
        return found[0]

    async def confirm(self, caller: Caller, mutation_type: str, mutation_id: str) -> None:
        """Acknowledge the message of one mutation (GovStack's confirm); not_found when none
        waits."""
        institution, application = _member(caller)
        found = await self._store.mailbox(
            institution, application, 0, 1, mutation_type=mutation_type, mutation_id=mutation_id
        )
        if not found or not await self.acknowledge(caller, [found[0].seq]):
            raise Refusal(
                "not_found",
                f"no unacknowledged {mutation_type} message {mutation_id[:100]!r} for "
                f"{caller.client_id}.",
            )

    async def acknowledge(self, caller: Caller, seqs: list[int]) -> int:
        """Acknowledge received messages; each acknowledged now is audited as delivered."""
        institution, application = _member(caller)
        if (
            not seqs
            or len(seqs) > MAX_MAILBOX_PAGE
            or not all(isinstance(s, int) and s > 0 for s in seqs)
        ):
            raise Refusal(
                "malformed_request",
                f"seqs lists 1 to {MAX_MAILBOX_PAGE} sequence numbers of received messages.",
                "seqs",
            )
        now = self._clock.now_ms()
        # Audited before the outbox records them as received (as push deliveries are): if the
        # audit cannot be written, the messages stay in the mailbox and the caller gets the error.
        waiting = await self._store.unacknowledged(institution, application, seqs)
        mine = (
            {
                s.id: s
                for s in await self._store.subscriptions(
                    institution=institution, application=application
                )
            }
            if waiting
            else {}
        )
        await self._audit.append_many(
            [
                _delivered(delivery, mine.get(delivery.subscription), institution, application, now)
                for delivery in waiting
            ]
        )
        return (
            await self._store.ack(institution, application, [d.seq for d in waiting], now)
            if waiting
            else 0
        )

    # Dead letters (operator) ---------------------------------------------------------------

    async def dead_letters(
        self, limit: int, institution: str | None = None, after: int = 0
    ) -> list[Delivery]:
        """The oldest dead letters after seq `after`, or `institution`'s oldest (its
        subscriptions')."""
        return await self._store.dead_letters(limit, institution, after)

    async def count_dead_letters(self, institution: str | None = None) -> int:
        """How many dead letters wait for an operator: all members', or `institution`'s."""
        return await self._store.count_dead_letters(institution)

    async def replay(self, seqs: list[int], actor: str | None = None) -> int:
        """Queue dead letters again, due now; audited with the sequence numbers replayed and the
        operator's id (`actor`)."""
        replayed = await self._store.replay(seqs)
        await self._audit.append(
            AuditRecord(
                kind="mutation",
                at_ms=self._clock.now_ms(),
                outcome="ok",
                action="mutation.replay",
                detail={"seqs": sorted(set(seqs))[:1000], "replayed": len(replayed)},
                actor=actor,
            )
        )
        await self._push_queue.requeue(replayed)
        return len(replayed)

    async def drop(self, seqs: list[int], actor: str | None = None) -> int:
        """Give up dead letters for good (the subscriber will not get them); audited like a
        replay, with the sequence numbers dropped and the operator's id (`actor`)."""
        now = self._clock.now_ms()
        dropped = await self._store.drop(seqs, now)
        await self._audit.append(
            AuditRecord(
                kind="mutation",
                at_ms=now,
                outcome="ok",
                action="mutation.drop",
                detail={"seqs": sorted(set(seqs))[:1000], "dropped": len(dropped)},
                actor=actor,
            )
        )
        return len(dropped)


def check_payload(kind: MutationType, payload: object, *, quote: bool = True) -> None:
    """Refuse a payload off its type's schema, naming the field (`payload.city`); `quote`: the
    sentence may quote the payload's value (the caller's own; not a publisher's state read for
    someone else, schema_check.py)."""
    error = first_error(kind.schema, payload, quote=quote)
    if error is not None:
        name = ".".join(["payload", *map(str, error[0])])
        raise Refusal("malformed_request", f"{name}: {error[1]}", name)


def cloud_event(
    mutation: Mutation, data: object, authorization: str, initial: bool = False
) -> bytes:
    """The message as a recipient receives it: CloudEvents 1.0, JSON format.

    Every recipient of one mutation gets the same `source` and `id` (so a redelivery is
    recognisable as such), and only the data its `authorization` allows. `initial` marks a
    person's current state sent on integration (extension attribute `initialsync`).
    """
    envelope = _envelope(mutation)
    if initial:
        envelope = {"initialsync": True, **envelope}
    return _message(envelope, data, authorization)


def _recipients_detail(
    recipients: list[tuple[Subscription, bytes]],
    made: dict[tuple[str, ...], tuple[list[str], list[dict[str, str]]]],
) -> dict[str, Any]:
    """A publication's audit detail of who receives it: `recipients`, the institutions, and
    `sent_to`, shown to the person: each recipient with the authorization it receives under.
    Made once per set of subscriptions in a batch (`made`), which most of its mutations share;
    the records share the lists, which nothing changes once made."""
    key = tuple(subscription.id for subscription, _ in recipients)
    if key not in made:
        made[key] = (
            sorted({s.institution for s, _ in recipients}),
            [
                {"institution": i, "authorization": a}
                for i, a in sorted({(s.institution, s.authorization) for s, _ in recipients})
            ],
        )
    institutions, sent_to = made[key]
    return {"recipients": institutions, "sent_to": sent_to}


def _envelope(mutation: Mutation) -> dict[str, Any]:
    """What every recipient's message about one mutation has in common (made once per mutation)."""
    return {
        "specversion": "1.0",
        "id": mutation.id,
        "source": f"urn:crossroads:institution:{mutation.publisher}",
        "type": event_type(mutation.type, mutation.version),
        "subject": mutation.subject,
        "time": datetime.fromtimestamp(mutation.published_at_ms / 1000, UTC)
        .isoformat()
        .replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "effectivedate": mutation.effective.isoformat(),
    }


def _message(envelope: dict[str, Any], data: object, authorization: str) -> bytes:
    return orjson.dumps({**envelope, "authorization": authorization, "data": data})


def _delivered(
    delivery: Delivery,
    subscription: Subscription | None,
    institution: str,
    application: str,
    at_ms: int,
) -> AuditRecord:
    return AuditRecord(
        kind="mutation",
        at_ms=at_ms,
        outcome="ok",
        action="mutation.deliver",
        consumer=institution,
        application=application,
        service=subscription.mutation_type if subscription else None,
        authorization=subscription.authorization if subscription else None,
        subject_hash=delivery.subject_key.hex(),
        target=delivery.mutation_id,
        providers=(delivery.publisher,),
        detail={"seq": delivery.seq, "via": "pull", "subscription": delivery.subscription},
    )


def _check_publisher(kind: MutationType, publisher: str, field: str = "mutation_type") -> None:
    if kind.publisher != publisher:
        raise Refusal(
            "forbidden",
            f"only institution {kind.publisher} publishes {kind.code} version {kind.version}.",
            field,
        )


def _member(caller: Caller) -> tuple[str, str]:
    if caller.institution is None or caller.application is None:
        raise Refusal(
            "forbidden",
            "mutations are published and received by applications of member institutions.",
        )
    return caller.institution, caller.application
