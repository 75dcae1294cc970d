"""Operators: the people and service accounts who administer the hub, and what their roles allow.

Roles are held by the hub (the operators table, managed by an operator with the `admin` role),
not taken from the identity provider's claims: the identity provider says who signed in, the hub
says what they may do, so that granting or withdrawing a role is one audited change on the hub,
in force at the next request, whatever the identity provider is.

An operator's id names its kind: `person:SUBJECT` (the `sub` an OpenID Connect provider vouches
for) or `service:NAME` (a service account, which authenticates with its own key). The static
admin token, while it is enabled, acts as `admin-token` with every permission.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .errors import Refusal


class Role(StrEnum):
    READ_ONLY = "read-only"
    AUDITOR = "auditor"
    REGISTRY_EDITOR = "registry-editor"
    APPROVER = "approver"
    ADMIN = "admin"


class Permission(StrEnum):
    READ = "read"  # list and show the registry, proposals, operators, dead letters
    AUDIT = "audit"  # read decoded audit entries
    EDIT = "edit"  # change the registry, the employers' register, mutation types, the directory
    APPROVE = "approve"  # approve or reject another operator's proposal (four eyes)
    MANAGE = "manage"  # add, change and remove operators and service accounts


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.READ_ONLY: frozenset({Permission.READ}),
    Role.AUDITOR: frozenset({Permission.READ, Permission.AUDIT}),
    Role.REGISTRY_EDITOR: frozenset({Permission.READ, Permission.EDIT}),
    Role.APPROVER: frozenset({Permission.READ, Permission.APPROVE}),
    Role.ADMIN: frozenset(Permission),
}

PERSON = "person"
SERVICE = "service"
_ID = re.compile(r"^(person|service):[A-Za-z0-9._@+=-][A-Za-z0-9._@+=:/-]{0,199}$")


@dataclass(frozen=True)
class Actor:
    """Who a change is made by, as audit records name it, and what they may do."""

    id: str
    roles: frozenset[Role] = field(default_factory=frozenset)

    def may(self, permission: Permission) -> bool:
        return any(permission in GRANTS[role] for role in self.roles)

    def may_manage(self) -> bool:
        return self.may(Permission.MANAGE)

    def require(self, permission: Permission) -> None:
        """Refuse with `role_required` unless one of the actor's roles grants `permission`."""
        if not self.may(permission):
            needed = sorted(r.value for r, granted in GRANTS.items() if permission in granted)
            held = ", ".join(sorted(r.value for r in self.roles)) or "none"
            raise Refusal(
                "role_required",
                f"{self.id} may not {permission.value} here: this needs one of the roles "
                f"{', '.join(needed)} (held: {held}).",
            )


ADMIN_TOKEN = Actor("admin-token", frozenset({Role.ADMIN}))


@dataclass(frozen=True)
class Operator:
    """A registered operator: a person (signs in through OpenID Connect) or a service account
    (authenticates with a client assertion signed by a key in `jwks`)."""

    id: str
    roles: tuple[Role, ...]
    active: bool = True
    jwks: dict[str, Any] | None = None  # service accounts only: their public keys

    @property
    def kind(self) -> str:
        return self.id.split(":", 1)[0]

    def actor(self) -> Actor:
        return Actor(self.id, frozenset(self.roles) if self.active else frozenset())


def check_operator_id(value: str, field_name: str = "id") -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise Refusal(
            "malformed_request",
            "an operator id is person:SUBJECT (as the identity provider names them) or "
            "service:NAME, at most 200 characters.",
            field_name,
        )
    return value


def parse_roles(values: Any, field_name: str = "roles") -> tuple[Role, ...]:
    """Roles by name, each once, in a stable order; refuses unknown names."""
    if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
        raise Refusal("malformed_request", "roles is a list of role names.", field_name)
    known = {r.value: r for r in Role}
    unknown = [v for v in values if v not in known]
    if unknown:
        raise Refusal(
            "malformed_request",
            f"unknown role {', '.join(unknown)}; roles are {', '.join(known)}.",
            field_name,
        )
    return tuple(r for r in Role if r.value in values)
