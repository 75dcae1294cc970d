"""An institution's pages for its staff, signed in on the portal (portal_signin.py) for their
institution: the persons it holds in the reference directory, its subscriptions, mailboxes and
dead letters, its exchanges and refusals over the last days, and its authorizations.

Everything is read and changed as the institution itself, through the services its applications
use: the directory's search shows only the institution's own entries, and integrating or ending
goes through the directory service, which refuses what the institution's integration rights do
not allow (and audits it). A staff member with the `viewer` role reads; a `manager` also
integrates and ends. National numbers are sent in a form's body, never in an address, so that
they stay out of the access log and the browser's history.
"""

from __future__ import annotations

from fastapi import Request
from starlette.responses import HTMLResponse

from ...bootstrap import Hub
from ...domain.callers import Caller
from ...domain.directory import Integration
from ...domain.errors import Refusal
from ...domain.professionals import INSTITUTION, Professional
from ...templates.i18n import N_
from .activity_charts import activity_charts
from .csrf import checked_form, csrf_token
from .dead_letter_pages import after_of, dead_letter_page
from .dependencies import hub_of
from .errors import audit_refusal
from .hub_router import HubRouter
from .json_input import JSONRoute
from .operator_tables import valid_on
from .pages import language, page
from .portal_visitor import professional, signed_in
from .purposes import purpose_label

router = HubRouter(route_class=JSONRoute, prefix="/portal/institution", include_in_schema=False)
MANAGER = "manager"
MAILBOX_LOOK = 1000  # the mailbox's waiting messages are counted up to this many
DEAD_LETTERS_SHOWN = 1000  # the institution's dead letters a page lists
PAGES = (
    ("/portal/institution/", N_("Overview")),
    ("/portal/institution/persons", N_("Persons we hold")),
    ("/portal/institution/subscriptions", N_("Subscriptions and mailboxes")),
    ("/portal/institution/authorizations", N_("Our authorizations")),
)


def _context(request: Request, staff: Professional, hub: Hub) -> dict:
    return {
        "staff": staff,
        "manager": staff.role == MANAGER,
        "sub_nav_label": N_("My organisation's pages"),
        "sub_nav": [
            {"href": href, "label": label, "current": href == request.url.path}
            for href, label in PAGES
        ],
        "csrf": csrf_token(request),
    }


async def _staff(request: Request) -> tuple[Professional, Hub, str]:
    staff = professional(request, INSTITUTION)
    hub = hub_of(request)
    found = await hub.registry_queries.find_institution(staff.organisation)
    return staff, hub, found.name if found else staff.organisation


@router.get("/")
async def overview(request: Request) -> HTMLResponse:
    if signed_in(request) is None:  # the landing page invites to sign in, as /citizen/ does
        return page(request, "portal/institution/sign_in.html")
    staff, hub, name = await _staff(request)
    charts = await activity_charts(hub.activity, staff.organisation, language(request)[0])
    return page(
        request,
        "portal/institution/overview.html",
        **_context(request, staff, hub),
        institution_name=name,
        **charts,
    )


@router.get("/persons")
async def persons(request: Request) -> HTMLResponse:
    staff, hub, name = await _staff(request)
    return await _persons_page(request, staff, hub, name, None, [])


@router.post("/persons")
async def persons_form(request: Request) -> HTMLResponse:
    """The search, and (for a manager) integrating or ending: each a form with the session's
    CSRF token; the page answers with the person's entries as they are afterwards. A value the
    directory refuses (a national number, a day) comes back as the page, the form as typed and
    the error beside its field, audited as the API's refusal would be."""
    staff, hub, name = await _staff(request)
    form = await checked_form(request, hub.settings.issuer)
    subject = form.get("subject", "").strip()
    action = form.get("action", "search")
    done = None
    try:
        if action in ("integrate", "end"):
            if staff.role != MANAGER:
                raise Refusal("forbidden", "only a manager of the institution integrates or ends.")
            raw = {
                "op": action,
                "subject": subject,
                "capacity": form.get("capacity", ""),
                **({"phase": form["phase"]} if action == "integrate" and form.get("phase") else {}),
                **{k: form[k] for k in ("start", "end") if form.get(k)},
            }
            await hub.directory.change(raw, staff.organisation, f"portal:{staff.person[:32]}")
            done = action
        elif action != "search":
            raise Refusal("malformed_request", "the form's action is search, integrate or end.")
        entries = await hub.directory.held_by(subject, staff.organisation)
    except Refusal as refusal:
        if refusal.code in NOT_ABOUT_THE_FORM:
            raise
        await audit_refusal(request, refusal)
        error = {"action": action, "field": _field_of(refusal, action), **_said(refusal)}
        known = error["field"] != "subject"  # else the number itself was refused
        entries = await hub.directory.held_by(subject, staff.organisation) if known else []
        return await _persons_page(
            request, staff, hub, name, subject if known else None, entries, error=error, typed=form
        )
    return await _persons_page(request, staff, hub, name, subject, entries, done)


# Refusals about who asks rather than what was typed: the refusal page.
NOT_ABOUT_THE_FORM = frozenset({"unauthenticated", "forbidden", "csrf_failed"})
FORM_FIELDS = {"subject", "capacity", "phase", "start", "end"}


def _field_of(refusal: Refusal, action: str) -> str:
    """The form field a refusal is about ("" for the form as a whole)."""
    field = (refusal.field or "").split(".")[0]
    if field in FORM_FIELDS:
        return field
    if refusal.code == "invalid_identifier":
        return "subject"
    if refusal.code == "invalid_period":
        return "start" if action == "integrate" else "end"
    return ""


def _said(refusal: Refusal) -> dict:
    return {"code": refusal.code, "detail": refusal.message, "status": refusal.status}


async def _persons_page(
    request: Request,
    staff: Professional,
    hub: Hub,
    name: str,
    subject: str | None,
    entries: list[Integration],
    done: str | None = None,
    *,
    error: dict | None = None,
    typed: dict | None = None,
) -> HTMLResponse:
    """The persons page; after a refused form, `error` (its action, field, code and English
    detail) and the values `typed`, answered with the refusal's status."""
    rights = await hub.registry_queries.integration_rights(staff.organisation)
    response = page(
        request,
        "portal/institution/persons.html",
        **_context(request, staff, hub),
        institution_name=name,
        subject=subject,
        entries=entries,
        capacities=sorted({r.capacity for r in rights}),
        done=done,
        today=hub.clock.today(),
        error=error,
        typed=typed or {},
        status=error["status"] if error else 200,
    )
    if error:
        response.headers["X-Road-Error"] = error["code"]
    return response


@router.get("/subscriptions")
async def subscriptions(request: Request) -> HTMLResponse:
    staff, hub, name = await _staff(request)
    applications = []
    for application in await hub.registry_queries.applications(staff.organisation):
        caller = Caller(staff.organisation, application.code)
        held = await hub.mutations.subscriptions(caller)
        waiting = await hub.mutations.mailbox(caller, 0, MAILBOX_LOOK)
        applications.append(
            {
                "application": application,
                "subscriptions": held,
                "waiting": len(waiting),
                "more": len(waiting) == MAILBOX_LOOK,
            }
        )
    # The store picks the institution's own (its subscriptions', those of an application since
    # removed included), and counts them the same way. Were the hub's oldest thousand filtered
    # here, they could all be another member's (one whose webhook fails) and this page would show
    # none of its own.
    letters = await dead_letter_page(
        hub.mutations, after_of(request), DEAD_LETTERS_SHOWN, staff.organisation
    )
    return page(
        request,
        "portal/institution/subscriptions.html",
        **_context(request, staff, hub),
        institution_name=name,
        applications=applications,
        letters=letters,
    )


@router.get("/authorizations")
async def authorizations(request: Request) -> HTMLResponse:
    staff, hub, name = await _staff(request)
    today = hub.clock.today()
    found = await hub.registry_queries.authorizations(consumer=staff.organisation)
    return page(
        request,
        "portal/institution/authorizations.html",
        **_context(request, staff, hub),
        institution_name=name,
        authorizations=[
            {"a": a, "purpose_label": purpose_label(a.purpose), "valid": valid_on(a, today)}
            for a in found
        ],
        rights=await hub.registry_queries.integration_rights(staff.organisation),
    )
