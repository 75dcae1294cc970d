"""Links between this hub's person identifiers and a peer hub's (docs/federation.md, "Identifiers
across the border").

Two federated hubs may each keep their own identifier scheme (a Belgian national number on one
side, an Estonian isikukood on the other). An exchange or a mutation about a person crosses the
border carrying the identifier the *other* side knows, so the asking hub must know which of the
peer's identifiers is the same person as one of its own. That knowledge is an `IdentifierLink`:
recorded by the *authority* the operator designated for that peer (an institution of this hub,
typically its population register, which keeps the cross-border links in its own work), and used
only as a built-in service, `federation.identifiers`, under an authorization like any other: a
member that asks a peer about a person needs an authorization for that service too, and every
use is in the audit log. No hub keeps a hidden table.

A link is one-to-one per peer: a person has one identifier in each scheme, so two local
identifiers linked to the same remote one (or the reverse) is a conflict, refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import Refusal

IDENTIFIERS_SERVICE = "federation.identifiers"
IDENTIFIERS_NAME = "The identifier a peer hub knows a person by (identifier links)"
IDENTIFIERS_FIELDS = ("peer", "identifier", "authority")
_MAX_IDENTIFIER = 64


@dataclass(frozen=True)
class IdentifierLink:
    """`local` (this hub's scheme, normalised) is the same person as `remote` (the peer's scheme,
    as the peer's hub normalises it), as `authority` (an institution of this hub) recorded."""

    peer: str
    local: str
    remote: str
    authority: str
    recorded_at_ms: int

    def answer(self) -> dict[str, str]:
        """The built-in service's answer about this link (before minimisation)."""
        return {"peer": self.peer, "identifier": self.remote, "authority": self.authority}


def check_remote(value: object) -> str:
    """A peer's identifier when this hub does not know the peer's scheme: printable text without
    blanks, at most 64 characters (the peer validates it by its own scheme when it is used)."""
    if (
        not isinstance(value, str)
        or not value
        or len(value) > _MAX_IDENTIFIER
        or not value.isprintable()
        or any(c.isspace() for c in value)
    ):
        raise Refusal(
            "invalid_identifier",
            f"the peer's identifier is printable text without blanks, at most {_MAX_IDENTIFIER} "
            "characters.",
            "identifier",
        )
    return value


def no_link(peer: str, direction: str) -> Refusal:
    """The refusal when no link is recorded: `direction` says which identifier was looked for."""
    return Refusal(
        "no_identifier_link",
        f"no identifier link with peer hub {peer} is recorded for this person ({direction}); "
        "the authority this hub designated for that peer records them.",
        "subject",
    )
