"""Mutations: changes an authentic source publishes, and who is entitled to be told.

A mutation is about one person, takes effect on one day, and is of a registered type that one
authentic source may publish. An institution subscribes to a type under an authorization (the
same decisions as exchanges: consumer, service = the mutation type's code, purpose, required
capacities, allowed fields). The recipients of a mutation are the subscriptions whose institution
holds the person, in one of the authorization's required capacities, on the mutation's effective
date, and whose authorization is valid on the day it is published; each receives only the fields
its authorization allows.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .directory import Holding
from .errors import Refusal
from .registry import DESCRIPTION_LENGTH, NAME_LENGTH, Authorization, check_code
from .wording import check_wording

MODES = ("pull", "push")
STATE_PATH = re.compile(r"^(/[A-Za-z0-9._~-]+)+$")


@dataclass(frozen=True)
class MutationType:
    """A kind of change (`person.address`, version 1), its payload's JSON Schema, and its
    publisher."""

    code: str
    version: str
    name: str
    publisher: str  # the enterprise number of the one authentic source that may publish it
    fields: tuple[str, ...]  # what the payload may hold; authorizations allow some of them
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "object"})
    description: str = ""
    # Where the publisher answers a person's current state for this type (a payload of the same
    # schema), so that a new holder can be sent it when integrating the person; None: no such thing.
    state_path: str | None = None
    # The name and description in other languages (wording.py).
    name_translations: dict[str, str] = field(default_factory=dict)
    description_translations: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_wording(self.name_translations, "name_translations", NAME_LENGTH)
        check_wording(self.description_translations, "description_translations", DESCRIPTION_LENGTH)
        check_code(self.code, "code")
        check_code(self.version, "version")
        if self.state_path is not None and not STATE_PATH.match(self.state_path):
            raise Refusal(
                "malformed_request",
                "state_path is a path like /mutations/CODE/VERSION/state.",
                "state_path",
            )
        if not self.fields:
            raise Refusal("malformed_request", "fields lists what the payload may hold.", "fields")


def event_type(code: str, version: str) -> str:
    """The CloudEvents `type` of a mutation type: reverse-DNS style, versioned."""
    return f"be.crossroads.{code}.v{version}"


@dataclass(frozen=True)
class Mutation:
    """One published change, as accepted. `subject` is the person's normalised number."""

    id: str
    type: str
    version: str
    publisher: str
    subject: str
    subject_key: bytes
    effective: date
    payload: object  # the JSON value its type's schema accepts (an object unless it says otherwise)
    published_at_ms: int


@dataclass(frozen=True)
class Subscription:
    """An application's standing request to receive one mutation type under one authorization."""

    id: str
    institution: str
    application: str
    mutation_type: str
    authorization: str
    mode: str = "pull"
    webhook_url: str | None = None
    created_at_ms: int = 0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise Refusal("malformed_request", "mode is pull or push.", "mode")
        if self.mode == "push" and not self.webhook_url:
            raise Refusal(
                "malformed_request", "a push subscription needs a webhook_url.", "webhook_url"
            )


# The application a peer hub's member subscribes by (services/peer_mutations.py): `peer.` and the
# peer's instance. No registered application may take such a code (services/registry.py), so the
# prefix names a peer's subscription and nothing else.
PEER_APPLICATION_PREFIX = "peer."


def peer_of(subscription: Subscription) -> str | None:
    """The peer hub a subscription was made through; None for one of this hub's own members'."""
    if subscription.application.startswith(PEER_APPLICATION_PREFIX):
        return subscription.application[len(PEER_APPLICATION_PREFIX) :]
    return None


def entitled(
    subscriptions: Iterable[Subscription],
    authorizations: dict[str, Authorization],
    holders: Iterable[Holding],
    mutation_type: str,
    effective: date,
    today: date,
    granted: Mapping[str, Collection[str]],
) -> list[tuple[Subscription, Authorization]]:
    """The subscriptions that must receive a mutation, each with the authorization it is under.

    `holders` are the person's holdings (every institution); `authorizations` maps a
    reference to its decision; `granted` holds the (institution, capacity) pairs of the
    registry's integration rights (institution -> capacities). A subscription is entitled when
    its authorization is for this mutation type, is valid `today` and on the `effective` day,
    and its institution holds the person, within its rights, in one of the authorization's
    required capacities on the `effective` day (definitively, unless the authorization accepts
    provisional integrations). Anything missing entitles nobody.
    """
    return entitled_among(
        candidates(subscriptions, authorizations, mutation_type, today), holders, effective, granted
    )


def candidates(
    subscriptions: Iterable[Subscription],
    authorizations: dict[str, Authorization],
    mutation_type: str,
    today: date,
) -> list[tuple[Subscription, Authorization]]:
    """What `entitled` checks of a subscription whatever the person and the effective day: it is
    for `mutation_type`, under an authorization of that type to its institution, valid `today`.
    A batch of publications checks it once per type, not once per mutation."""
    chosen = []
    for subscription in subscriptions:
        authorization = authorizations.get(subscription.authorization)
        if (
            subscription.mutation_type == mutation_type
            and authorization is not None
            and authorization.service == mutation_type
            and authorization.consumer == subscription.institution
            and authorization.is_valid_on(today)
        ):
            chosen.append((subscription, authorization))
    return chosen


def entitled_among(
    candidates: Iterable[tuple[Subscription, Authorization]],
    holders: Iterable[Holding],
    effective: date,
    granted: Mapping[str, Collection[str]],
) -> list[tuple[Subscription, Authorization]]:
    """`entitled`, of `candidates` (what `candidates` chose): those whose authorization is valid
    on the `effective` day and whose institution holds the person as `entitled` says."""
    day = effective.toordinal()
    held: dict[tuple[str, str], bool] = {}  # (institution, capacity) -> held definitively
    for institution, capacity, definitive, first_day, last_day in holders:
        if first_day <= day <= last_day and capacity in granted.get(institution, ()):
            key = (institution, capacity)
            held[key] = held.get(key, False) or bool(definitive)
    if not held:
        return []
    chosen = []
    for subscription, authorization in candidates:
        if not authorization.is_valid_on(effective):
            continue
        provisional = authorization.accepts_provisional
        for capacity in authorization.required_capacities:
            holding = held.get((subscription.institution, capacity))  # None: not held
            if holding or (provisional and holding is not None):
                chosen.append((subscription, authorization))
                break
    return chosen
