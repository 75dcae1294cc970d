"""`crossroads sessions …`: one person's browser sessions, on the hub's store
(docs/operations.md, "Ending a person's sessions").

Works straight on the store, through the same use case (services/person_sessions.py) as
`DELETE /admin/sessions`, audited with the actor `cli:USER`: an operator ends the sessions of an
employer's staff member whose role was withdrawn at the identity provider, or of a citizen whose
device was stolen, without waiting for their lifetime; every hub process refuses them at their
next request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import typer

from .operator_commands import on_store_as_cli
from .output import out, print_rows
from .stores import with_data_dir

if TYPE_CHECKING:
    from ...domain.operators import Actor
    from ...services.person_sessions import PersonSessions

sessions_app = typer.Typer(
    help="One person's browser sessions (citizen, portal, operator), on the hub's store.",
    no_args_is_help=True,
)
SubjectOption = typer.Option(
    ...,
    "--subject",
    help=(
        "Whom: a citizen's national number, a portal user's subject at the identity provider "
        "(sub), an operator's id (person:SUBJECT) or subject."
    ),
)
AudienceOption = typer.Option(
    None, "--audience", help="citizen, portal or operator; unset: every audience."
)


def _on_sessions(
    use: Callable[[PersonSessions, Actor], Awaitable[dict[str, int]]],
) -> dict[str, int]:
    return on_store_as_cli(lambda hub, actor: use(hub.person_sessions, actor))


@sessions_app.command("end")
@with_data_dir
def sessions_end(subject: str = SubjectOption, audience: str | None = AudienceOption) -> None:
    """End every browser session of one person, in every hub process at its next request
    (audited as cli:USER)."""
    ended = _on_sessions(lambda sessions, actor: sessions.end(subject, audience, actor))
    out.print(
        f"{sum(ended.values())} session(s) ended: "
        + ", ".join(f"{name} {n}" for name, n in ended.items()),
        markup=False,
        highlight=False,
    )


@sessions_app.command("list")
@with_data_dir
def sessions_list(subject: str = SubjectOption, audience: str | None = AudienceOption) -> None:
    """How many browser sessions one person has signed in now, per audience."""
    counts = _on_sessions(lambda sessions, actor: sessions.count(subject, audience, actor))
    print_rows("sessions", ["audience", "signed_in"], [[a, str(n)] for a, n in counts.items()])
