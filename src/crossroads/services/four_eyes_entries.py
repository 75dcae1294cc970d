"""Four eyes on the registry's entries that let someone act or receive persons' data: members
(their addresses and peer), applications (their keys) and services (where their requests go).

Unlike an authorization, such an entry's change is proposed only when it grants something
(domain/proposals.py: `institution_grants`, `application_grants`, `service_reroutes`); what only
takes away or renames is applied at once. Its proposal keeps the entry as it was (`previous`),
and approval refuses it (`conflict`) if the entry changed since: applying it would otherwise undo
that change — bring back a key removed meanwhile, say. Used by services/four_eyes.py.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, TypeVar

from ..domain.errors import Refusal
from ..domain.proposals import (
    APPLICATION,
    INSTITUTION,
    SERVICE,
    Proposal,
    application_grants,
    institution_grants,
    service_reroutes,
)
from ..domain.registry import Application, Institution, Service
from .ports import Expected
from .registry import RegistryAdmin

Entry = Institution | Application | Service
E = TypeVar("E", Institution, Application, Service)


@dataclass(frozen=True)
class Granting:
    """What to propose: the proposal's kind and key, and the entry as it was (None: new)."""

    kind: str
    key: str
    previous: dict[str, Any] | None


async def checked(
    registry: RegistryAdmin, change: Entry
) -> tuple[Entry, Granting | None, Expected[Entry]]:
    """The entry as it would be recorded (or the refusal it meets); when it grants something,
    what four eyes proposes (None: it may be applied at once); and the entry it was compared
    with (for a new service version, the code's highest), for the write to be conditional on
    (`put`)."""
    if isinstance(change, Service):
        service = await registry.check_service(change)
        routed = await _service_now(registry, service)
        granting = _granting(service_reroutes(routed, service), service, routed)
        return service, granting, Expected(routed)
    if isinstance(change, Institution):
        member = await registry.check_institution(change)
        was = await registry.institution(member.enterprise_number)
        return member, _granting(institution_grants(was, member), member, was), Expected(was)
    application = await registry.check_application(change)
    was_app = await registry.application(application.institution, application.code)
    granting = _granting(application_grants(was_app, application), application, was_app)
    return application, granting, Expected(was_app)


def kind_and_key(entry: Entry) -> tuple[str, str]:
    """The proposal kind of an entry and its key, as a proposal names them."""
    if isinstance(entry, Service):
        return SERVICE, f"{entry.code}/{entry.version}"
    if isinstance(entry, Institution):
        return INSTITUTION, entry.enterprise_number
    return APPLICATION, entry.client_id


async def put(
    registry: RegistryAdmin,
    entry: Entry,
    detail: dict[str, Any] | None = None,
    expected: Expected[Entry] | None = None,
) -> tuple[Entry, bool]:
    """Apply the change (checked again by the registry's use case), audited with `detail`; with
    `expected`, only if the entry at its key is still that one (else `ChangedMeanwhile`): what
    four eyes decided against a read must not land on an entry changed since."""
    if isinstance(entry, Institution):
        return await registry.put_institution(entry, detail, _of(expected, Institution))
    if isinstance(entry, Service):
        return await registry.put_service(entry, detail, _of(expected, Service))
    return await registry.put_application(entry, detail, _of(expected, Application))


def _of(expected: Expected[Entry] | None, kind: type[E]) -> Expected[E] | None:
    """`expected` as the write of an entry of `kind` takes it: its entry is one, or none."""
    if expected is None:
        return None
    if expected.entry is None:
        return Expected(None)
    if not isinstance(expected.entry, kind):
        raise TypeError(f"expected a {kind.__name__}, not {type(expected.entry).__name__}")
    return Expected(expected.entry)


async def recheck(registry: RegistryAdmin, proposal: Proposal) -> tuple[Entry, Expected[Entry]]:
    """A proposal's entry checked again against the registry as it is now; `conflict` if the
    entry is no longer the one the proposal was made against. With it, the entry compared with
    as read now, for the approval's write to be conditional on."""
    body = {k: v for k, v in proposal.body.items() if k != "previous"}
    now: Entry | None
    change: Entry
    if proposal.kind == SERVICE:
        change = await registry.check_service(
            Service(**{**body, "response_fields": tuple(body["response_fields"])})
        )
        now = await _service_now(registry, change)
    elif proposal.kind == INSTITUTION:
        change = await registry.check_institution(
            Institution(**{**body, "webhook_bases": tuple(body["webhook_bases"])})
        )
        now = await registry.institution(change.enterprise_number)
    else:
        change = await registry.check_application(Application(**body))
        now = await registry.application(change.institution, change.code)
    check_unchanged(proposal, None if now is None else plain(now))
    return change, Expected(now)


def check_unchanged(proposal: Proposal, now: dict[str, Any] | None) -> None:
    """`conflict` unless the entry is as the proposal found it (`now`: the entry as its body
    holds it, None when there is none): approving it would undo a change made since."""
    if now != proposal.body.get("previous"):
        raise Refusal(
            "conflict",
            f"{proposal.kind} {proposal.key} changed since proposal {proposal.id} was made: "
            "reject it and propose the change again.",
        )


def plain(change: Any) -> dict[str, Any]:
    """A registry change as a proposal's body holds it (JSON: days as ISO text, tuples as
    lists)."""
    return {
        k: (v.isoformat() if isinstance(v, date) else list(v) if isinstance(v, tuple) else v)
        for k, v in asdict(change).items()
    }


def _granting(grants: bool, entry: Entry, was: Entry | None) -> Granting | None:
    return Granting(*kind_and_key(entry), None if was is None else plain(was)) if grants else None


async def _service_now(registry: RegistryAdmin, service: Service) -> Service | None:
    """What a service version's change is compared with: that version, or for a new version
    the code's highest (a new version takes the requests authorized for the code)."""
    return await registry.service(service.code, service.version) or await registry.service(
        service.code
    )
