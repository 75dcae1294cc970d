"""The operator's pages: the registry, the dead letters and the hub's activity, read in a browser
behind the operators' sign-in (operator_session.py), in the portal's four languages.

Each page reads through the admin services the admin API uses (the registry's queries, the
mutation service, the hub's status, the audit proofs) and asks the same permission as the route
that serves the same data: `read` for everything here but the audit log's verification, which
needs `audit`. A person signed in without a role sees a refusal page, never an empty one; a
visitor not signed in is offered the sign-in. The registry's pages and the dead letters carry the
forms their reader's roles allow (operator_actions.py posts them, through the same services).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request
from fastapi.responses import RedirectResponse
from starlette.responses import HTMLResponse

from ...domain.activity import HUB
from ...domain.errors import Refusal
from ...domain.merkle import TreeHead
from ...domain.operators import Actor, Permission
from ...templates.i18n import N_
from .activity_charts import activity_charts
from .csrf import checked_form
from .dead_letter_pages import after_of, dead_letter_page
from .dependencies import hub_of
from .hub_router import HubRouter
from .json_input import JSONRoute
from .operator_form_context import Posted, form_context
from .operator_tables import TABLES, rows_of
from .pages import OPERATOR_PAGES, language, page
from .sessions import sign_out as end_session

router = HubRouter(route_class=JSONRoute, prefix="/operator", include_in_schema=False)
# A page lists this many dead letters; the page and the overview count them all.
DEAD_LETTERS_SHOWN = 1000


async def signed_in_operator(request: Request) -> Actor | None:
    """The operator this browser signed in as (with the roles the hub grants them now), or None."""
    if "session" not in request.scope:
        return None
    operator_id = request.session.get("operator")
    if not isinstance(operator_id, str):
        return None
    return await hub_of(request).operators.actor_of(operator_id)


def operator_context(request: Request, actor: Actor) -> dict:
    current = request.url.path
    return {
        "operator": actor,
        "sub_nav_label": N_("Operator"),
        "sub_nav": [
            {"href": href, "label": label, "current": href == current}
            for href, label in OPERATOR_PAGES
        ],
        "csrf": request.session.get("csrf"),
        "may_audit": actor.may(Permission.AUDIT),
    }


async def _page(
    request: Request,
    template: str,
    permission: Permission,
    load: Callable[[], Awaitable[dict]],
) -> HTMLResponse:
    """The page, when the signed-in operator's roles grant `permission`: `load` reads what it
    shows only then."""
    actor = await signed_in_operator(request)
    if actor is None:
        return page(request, "portal/operator/sign_in.html")  # an invitation, as /citizen/ is
    actor.require(permission)  # role_required: the refusal page, as the API would answer
    return page(request, template, **operator_context(request, actor), **await load())


@router.get("/")
async def overview(request: Request) -> HTMLResponse:
    hub = hub_of(request)

    async def load() -> dict:
        try:
            await hub.status.ready()
            ready = True
        except Refusal:
            ready = False
        counts = {
            **await hub.registry_queries.counts(),
            "dead_letters": await hub.mutations.count_dead_letters(),
        }
        return {
            "ready": ready,
            "degraded": await hub.status.degraded(),
            "gauges": await hub.status.gauges(),
            "head": await _latest_head(request),
            "counts": counts,
            **await activity_charts(hub.activity, HUB, language(request)[0]),
        }

    return await _page(request, "portal/operator/overview.html", Permission.READ, load)


async def registry_page(
    request: Request, actor: Actor, name: str, posted: Posted | None = None, status: int = 200
) -> HTMLResponse:
    """A registry table (or the dead letters) with the forms the actor's roles allow; `posted`,
    a form sent back with its errors."""
    hub = hub_of(request)
    if name == "dead-letters":
        template = "portal/operator/dead_letters.html"
        after = after_of(request)
        data: dict = {"letters": await dead_letter_page(hub.mutations, after, DEAD_LETTERS_SHOWN)}
    else:
        template = "portal/operator/table.html"
        after = request.query_params.get("after", "")
        rows, next_after = await rows_of(name, hub, after)
        data = {"table": TABLES[name], "rows": rows, "next_after": next_after}
    forms = await form_context(request, hub, actor, name, posted)
    return page(request, template, status, **operator_context(request, actor), **data, **forms)


async def _registry_route(request: Request, name: str) -> HTMLResponse:
    actor = await signed_in_operator(request)
    if actor is None:
        return page(request, "portal/operator/sign_in.html")
    actor.require(Permission.READ)
    return await registry_page(request, actor, name)


@router.get("/dead-letters")
async def dead_letters(request: Request) -> HTMLResponse:
    return await _registry_route(request, "dead-letters")


@router.get("/audit")
async def audit(request: Request) -> HTMLResponse:
    """The latest signed tree head, its witnesses' cosignatures, and the way to verify."""
    hub = hub_of(request)

    async def load() -> dict:
        head = await _latest_head(request)
        return {
            "head": head,
            "root": head.root_hash.hex() if head else None,
            "cosignatures": await hub.audit_proofs.cosignatures(head.tree_size) if head else [],
            "witnesses": hub.settings.witness_urls,
        }

    return await _page(request, "portal/operator/audit.html", Permission.READ, load)


@router.get("/audit/verify")
async def verify(request: Request) -> HTMLResponse:
    """The whole log checked against its signed tree heads: the auditors' work (`audit`)."""

    async def load() -> dict:
        return {"report": await hub_of(request).auditor.verify()}

    return await _page(request, "portal/operator/verify.html", Permission.AUDIT, load)


async def _latest_head(request: Request) -> TreeHead | None:
    try:
        return await hub_of(request).audit_proofs.latest_head()
    except Refusal:
        return None  # no head signed yet: the page says so


@router.post("/sign-out")
async def sign_out(request: Request) -> RedirectResponse:
    """The pages' sign-out button: a form with the session's CSRF token (the JSON API's
    `POST /operator/logout` takes it in a header instead)."""
    await checked_form(request, hub_of(request).settings.issuer)
    await end_session(request)
    return RedirectResponse("/portal/", status_code=303)


def _table_route(name: str) -> Callable[[Request], Awaitable[HTMLResponse]]:
    async def route(request: Request) -> HTMLResponse:
        return await _registry_route(request, name)

    route.__name__ = f"operator_{name.replace('-', '_')}"
    return route


for _name in TABLES:
    router.add_api_route(f"/{_name}", _table_route(_name), methods=["GET"])
