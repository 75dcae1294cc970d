"""The registry: members of the network, their applications, capacities, services,
authorizations."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .errors import Refusal
from .periods import Period
from .wording import check_wording

# The longest default texts the admin API accepts; a text in another language is held to the same.
NAME_LENGTH = 200
DESCRIPTION_LENGTH = 2000
LEGAL_BASIS_LENGTH = 1000
# An integration right's legal basis is shorter (the admin API has always taken 500 characters).
INTEGRATION_LEGAL_BASIS_LENGTH = 500

CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# The member code under which the hub itself offers the services it routes per person (GovStack
# and X-Road name a service by its provider; a routed service has none until the directory is
# read). Not an enterprise number, so that it never names a member.
HUB_MEMBER = "hub"
HUB_MEMBER_CLASS = "GOV"


def check_code(value: str, field_name: str) -> str:
    """Codes appear in URLs and X-Road identifiers; keep them to a safe alphabet."""
    if not isinstance(value, str) or not CODE_PATTERN.match(value):
        raise Refusal(
            "malformed_request",
            f"{field_name} must be 1-64 characters of letters, digits, '.', '_' or '-', "
            "starting with a letter or digit.",
            field_name,
        )
    return value


@dataclass(frozen=True)
class Institution:
    """A member of the network, identified by its enterprise number."""

    enterprise_number: str
    name: str
    member_class: str = "GOV"
    base_url: str | None = None  # where its provider services listen, if it provides any
    # Where its webhooks may be: a subscription's webhook_url must start with one of these (or
    # with base_url). Registered by the operator, so that a member cannot aim the hub's signed
    # pushes at an address that is not its own.
    webhook_bases: tuple[str, ...] = ()
    # The pinned peer hub (its instance) this institution is a member of, registered here so
    # that that peer's members can be authorized; None: a member of this hub's own. A peer's
    # request is answered only for a member recorded for that very peer (docs/federation.md).
    peer: str | None = None


@dataclass(frozen=True)
class Application:
    """An information system of an institution that calls the hub with its own keys."""

    institution: str
    code: str
    name: str
    jwks: dict[str, Any] = field(default_factory=lambda: {"keys": []})
    active: bool = True

    @property
    def client_id(self) -> str:
        return client_id(self.institution, self.code)


def client_id(institution: str, code: str) -> str:
    return f"{institution}:{code}"


def split_client_id(value: str) -> tuple[str, str]:
    institution, sep, code = value.partition(":")
    if not sep or not institution or not code:
        raise Refusal(
            "invalid_client", "client_id must be ENTERPRISE_NUMBER:APPLICATION_CODE.", "client_id"
        )
    return institution, code


@dataclass(frozen=True)
class Capacity:
    code: str
    name: str
    # The name in other languages (wording.py): {"nl": ..., "fr": ..., "de": ...}.
    name_translations: dict[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        check_wording(self.name_translations, "name_translations", NAME_LENGTH)


@dataclass(frozen=True)
class Service:
    """A named, versioned electronic service.

    The provider is either one fixed institution (an authentic source) or, when
    `routed_capacity` is set, every institution that the reference directory names as holding
    the subject in that capacity for the period of interest.
    """

    code: str
    version: str
    name: str
    response_fields: tuple[str, ...]
    request_schema: dict[str, Any] = field(default_factory=lambda: {"type": "object"})
    response_schema: dict[str, Any] = field(default_factory=lambda: {"type": "object"})
    provider: str | None = None
    routed_capacity: str | None = None
    path: str = ""
    description: str = ""
    # The name and description in other languages (wording.py).
    name_translations: dict[str, str] = field(default_factory=dict)
    description_translations: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_wording(self.name_translations, "name_translations", NAME_LENGTH)
        check_wording(self.description_translations, "description_translations", DESCRIPTION_LENGTH)
        if (self.provider is None) == (self.routed_capacity is None):
            raise Refusal(
                "malformed_request",
                "a service has exactly one of provider (a fixed authentic source) or "
                "routed_capacity.",
                "provider",
            )

    @property
    def offered_by(self) -> str:
        """The member a client addresses for this service: its fixed provider, or the hub."""
        return self.provider or HUB_MEMBER

    @property
    def endpoint_path(self) -> str:
        return self.path or f"/services/{self.code}/{self.version}"


@dataclass(frozen=True)
class Authorization:
    """A legal decision that lets a consumer institution use a service for a purpose."""

    reference: str
    consumer: str
    service: str
    purpose: str
    legal_basis: str
    required_capacities: tuple[str, ...]
    allowed_fields: tuple[str, ...]
    valid_from: date
    valid_to: date | None = None
    # Whether a provisional integration (phase 1: a file being examined) is enough. Off unless
    # the deliberation says so: a provisional entry is written by the consumer itself.
    accepts_provisional: bool = False
    # The legal basis in other languages (wording.py).
    legal_basis_translations: dict[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        check_wording(self.legal_basis_translations, "legal_basis_translations", LEGAL_BASIS_LENGTH)

    @property
    def validity(self) -> Period:
        return Period(self.valid_from, self.valid_to)

    def covers(self, wanted: Period, today: date) -> bool:
        """Is every day asked about (an open end meaning up to `today`) within the validity?"""
        last = min(wanted.last_day, today) if wanted.end is None else wanted.end
        return self.valid_from <= wanted.start and (self.valid_to is None or last <= self.valid_to)

    def is_valid_on(self, day: date) -> bool:
        # Compared directly, not through Period objects: every exchange and every mutation's
        # fan-out asks this of each candidate authorization.
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


def choose_authorization(
    candidates: list[Authorization],
    today: date,
    reference: str | None,
    wanted: Period | None = None,
) -> Authorization:
    """Pick the authorization for an exchange among those for (consumer, service, purpose).

    A caller may name the reference; otherwise the one valid today is used. Refuses with
    `no_authorization` when none exists and `authorization_expired` when none is valid today.
    With `wanted`, the period asked about, the authorization must also cover every day of it
    (`period_outside_authorization`): a decision taken in 2024 says nothing about 2015.
    """
    if reference is not None:
        candidates = [a for a in candidates if a.reference == reference]
    if not candidates:
        named = f" {reference}" if reference else ""
        raise Refusal(
            "no_authorization",
            f"no authorization{named} allows this institution to use this service for this "
            "purpose.",
            "authorization" if reference else "purpose",
        )
    valid = [a for a in candidates if a.is_valid_on(today)]
    if not valid:
        latest = max(candidates, key=lambda a: a.valid_from)
        raise Refusal(
            "authorization_expired",
            f"authorization {latest.reference} is valid from {latest.valid_from.isoformat()}"
            f" to {latest.valid_to.isoformat() if latest.valid_to else 'further notice'}, not "
            f"on {today.isoformat()}.",
            "authorization",
        )
    if wanted is not None:
        covering = [a for a in valid if a.covers(wanted, today)]
        if not covering:
            chosen = max(valid, key=lambda a: a.valid_from)
            raise Refusal(
                "period_outside_authorization",
                f"authorization {chosen.reference} is valid from {chosen.valid_from.isoformat()}"
                f" to {chosen.valid_to.isoformat() if chosen.valid_to else 'further notice'};"
                " the period asked about is not within it.",
                "period",
            )
        valid = covering
    return max(valid, key=lambda a: a.valid_from)


@dataclass(frozen=True)
class IntegrationRight:
    """An institution may integrate persons in the reference directory in one capacity.

    The CBSS licenses each sector for the capacities it handles; here the operator grants each
    institution its capacities, with the legal basis that licenses it. A directory entry outside
    an institution's rights is refused when written and ignored when read.
    """

    institution: str
    capacity: str
    legal_basis: str = ""
    # The legal basis in other languages (wording.py).
    legal_basis_translations: dict[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        check_wording(
            self.legal_basis_translations,
            "legal_basis_translations",
            INTEGRATION_LEGAL_BASIS_LENGTH,
        )


@dataclass(frozen=True)
class RoutedProvider:
    """An institution registered as a provider of a routed service (for the service's capacity).

    Holding a person in the routed capacity is not enough to be sent other institutions'
    requests about them: the operator registers who provides the service, at a registered address.
    """

    service: str
    institution: str
