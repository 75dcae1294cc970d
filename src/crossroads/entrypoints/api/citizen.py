"""Who consulted my data: the citizen's sign-in, page, JSON list and the GovStack answer.

Only a citizen signed in through the configured OpenID Connect provider sees a list, and only
their own: the session holds the keyed hash of the identifier the provider vouched for.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from fastapi import Header, Query, Request
from fastapi.responses import RedirectResponse

from ...adapters.oidc import OidcSignIn
from ...domain.errors import Refusal
from ...services.citizen import Consultation, HistoryPage, Recipient
from ...services.registry_checks import HOLDERS_SERVICE
from .answer_models import Consultations, PersonalDataUsage
from .csrf import checked_form, csrf_token
from .dependencies import (
    CitizenSignInDep,
    DevelopmentSignInDep,
    HasherDep,
    HistoryDep,
    RegistryQueriesDep,
    SchemeDep,
    SettingsDep,
    hub_of,
)
from .errors import openapi_errors
from .hub_router import HubRouter
from .json_input import JSONRoute
from .openapi_models import answers
from .pages import page as portal_page
from .purposes import hub_entry_label, purpose_label
from .schemas import MAX_INTEGER
from .sessions import sign_in, sign_out

router = HubRouter(route_class=JSONRoute, tags=["citizen"])
ERRORS = openapi_errors("unauthenticated", "forbidden", "malformed_request", "not_found")
PAGE_SIZE = 50


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def _iso(at_ms: int) -> str:
    return (
        datetime.fromtimestamp(at_ms / 1000, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def _configured(signin: OidcSignIn | None) -> OidcSignIn:
    if signin is None:
        raise Refusal(
            "not_found",
            "citizen sign-in is not configured on this hub (see CROSSROADS_CITIZEN_OIDC_ISSUER).",
        )
    return signin


def _citizen(request: Request) -> bytes:
    """The signed-in citizen's keyed hash, or `unauthenticated`."""
    held = request.session.get("citizen")
    if not isinstance(held, str):
        raise Refusal("unauthenticated", "sign in as a citizen first: /citizen/login.")
    return bytes.fromhex(held)


@router.get("/citizen", include_in_schema=False)
async def citizen_root() -> RedirectResponse:
    return RedirectResponse("/citizen/", status_code=307)


@router.get(
    "/citizen/login", include_in_schema=False
)  # browser pages: not API, their refusals are pages
async def login(request: Request, signin: CitizenSignInDep, settings: SettingsDep):
    return await _configured(signin).redirect(request, f"{settings.issuer}/citizen/callback")


@router.get("/citizen/callback", include_in_schema=False)
async def callback(
    request: Request, signin: CitizenSignInDep, scheme: SchemeDep, hasher: HasherDep
) -> RedirectResponse:
    claimed = await _configured(signin).identify(request)
    try:
        identifier = scheme.person_from_claim(claimed)
    except Refusal:
        raise Refusal(
            "unauthenticated",
            "the identity provider vouched for an identifier that is not a valid "
            "national number of this hub's country.",
        ) from None
    # Sealed: the personal page asks the sources with it, and the cookie never shows it.
    await sign_in(
        request,
        citizen=hasher.hex(identifier),
        sealed=hub_of(request).identifier_seal.seal(identifier),
    )
    csrf_token(request)
    return RedirectResponse("/citizen/", status_code=303)


@router.post("/citizen/logout", include_in_schema=False)
async def logout(request: Request, settings: SettingsDep) -> RedirectResponse:
    """Sign out: the page's form, with the session's CSRF token, from the hub's own page. A GET
    is refused (405), so that a link or an image elsewhere cannot sign a citizen out."""
    await checked_form(request, settings.issuer)
    await sign_out(request)
    return RedirectResponse("/citizen/", status_code=303)


@router.get("/citizen/", include_in_schema=False)
async def page(
    request: Request,
    signin: CitizenSignInDep,
    development: DevelopmentSignInDep,
    history_of: HistoryDep,
    before: int | None = Query(None, ge=1, le=MAX_INTEGER),
):
    context = {
        "signed_in": False,
        "dev_idp": development,
        "login_url": "/citizen/login",
    }
    _configured(signin)  # refuses when citizen sign-in is not configured
    if not isinstance(request.session.get("citizen"), str):
        return portal_page(request, "citizen.html", **context)
    # The page marks the entries under the signed head; their proofs are in the JSON list.
    history = await history_of.page(_citizen(request), limit=PAGE_SIZE, before=before, proofs=False)
    head = history.tree_head
    rows = [
        {
            **_summary(c),
            "at_ms": c.record.at_ms,
            "purpose_label": purpose_label(c.purpose),
            "what_label": hub_entry_label(c.record.kind, c.record.action, c.record.service),
            "capacity": c.record.target or "",
            "what": c.service_name or c.record.service or c.record.action or c.record.kind,
            "what_translations": c.service_name_translations if c.service_name else {},
            "legal_basis_translations": c.legal_basis_translations,
            "published": c.record.action == "mutation.publish",
            "received": c.record.action == "mutation.deliver",
            "recipients": [
                {
                    **_recipient(r),
                    "purpose_label": purpose_label(r.purpose),
                    "legal_basis_translations": r.legal_basis_translations,
                }
                for r in c.recipients
            ],
            "institution": c.record.consumer,
            "institution_name": c.institution_name,
            "application_name": c.application_name,
            "via": c.via,
            "proved": c.under_head,
        }
        for c in history.consultations
    ]
    return portal_page(
        request,
        "citizen.html",
        **{
            **context,
            "signed_in": True,
            "consultations": rows,
            "head": head,
            "cosignatures": history.cosignatures,
            "json_url": "/v1/citizen/consultations" + (f"?before={before}" if before else ""),
            "next_url": f"/citizen/?before={history.next_before}" if history.next_before else None,
        },
    )


@router.get(
    "/v1/citizen/consultations",
    responses=answers(Consultations, ERRORS),
    summary="Citizen: every exchange about me, newest first, each with its inclusion proof",
)
async def consultations(
    request: Request,
    history_of: HistoryDep,
    limit: int = Query(PAGE_SIZE, ge=1, le=200),
    before: int | None = Query(None, ge=1, le=MAX_INTEGER),
) -> dict:
    history = await history_of.page(_citizen(request), limit=limit, before=before)
    return _page_json(history)


@router.get(
    "/govstack/data/myPersonalDataUsage",
    responses=answers(list[PersonalDataUsage], ERRORS),
    summary="Citizen: who read my personal data, as the GovStack Digital Registries API answers",
)
async def my_personal_data_usage(
    request: Request,
    history_of: HistoryDep,
    scheme: SchemeDep,
    hasher: HasherDep,
    settings: SettingsDep,
    queries: RegistryQueriesDep,
    user_id: str = Query(..., alias="userId", max_length=64),
    database_id: str = Query(..., alias="databaseId", max_length=64),
    information_mediator_client: str = Header(
        ..., alias="Information-Mediator-Client", max_length=256
    ),
) -> list[dict]:
    """GovStack `GET /data/myPersonalDataUsage`. `userId` must be the signed-in citizen, with or
    without the country prefix the specification's examples carry (`BE79122244457`);
    `databaseId` names a registered service code (only its exchanges) or this hub's instance
    (all). An unknown `databaseId` is refused: an empty list would read as "nobody consulted
    your data"."""
    citizen = _citizen(request)
    try:
        person = scheme.person_from_claim(user_id)
    except Refusal:
        raise Refusal(
            "malformed_request",
            f"userId is not a valid national number of this hub's country ({scheme.country}),"
            f" with or without its country prefix ({scheme.country}…).",
            "userId",
        ) from None
    everything = database_id == settings.instance
    if not everything and database_id not in await _database_ids(queries):
        raise Refusal(
            "not_found",
            f"databaseId {database_id!r} is neither this hub's instance ({settings.instance})"
            " nor a registered service code.",
            "databaseId",
        )
    if hasher.key(person) != citizen:
        raise Refusal(
            "forbidden",
            "a citizen sees only the use of their own data: userId is not the signed-in person.",
            "userId",
        )
    history = await history_of.page(
        citizen,
        limit=200,
        kinds=frozenset({"exchange"}),
        service_code=None if everything else database_id,
    )
    return [_govstack(c) for c in history.consultations]


async def _database_ids(queries: RegistryQueriesDep) -> set[str]:
    """What a citizen may narrow their list to: every registered service, and the built-in
    service that answers who holds a file on them."""
    return {s.code for s in await queries.services()} | {HOLDERS_SERVICE}


def _summary(c: Consultation) -> dict:
    r = c.record
    return {
        "kind": r.kind,
        "at": _iso(r.at_ms),
        "request_id": r.request_id,
        "purpose": c.purpose,
        "authorization": r.authorization,
        "legal_basis": c.legal_basis,
        "outcome": r.outcome,
        "allowed": c.allowed,
        "leaf_index": c.leaf_index,
    }


def _recipient(r: Recipient) -> dict:
    """An institution a published change was sent to, as the citizen's list shows it."""
    return {
        "institution": {"enterprise_number": r.institution, "name": r.institution_name},
        "purpose": r.purpose,
        "authorization": r.authorization,
        "legal_basis": r.legal_basis,
    }


def _page_json(history: HistoryPage) -> dict:
    head = history.tree_head
    items = []
    for c in history.consultations:
        r = c.record
        item = {
            **_summary(c),
            "institution": {"enterprise_number": r.consumer, "name": c.institution_name},
            "application": {"code": r.application, "name": c.application_name}
            if r.application
            else None,
            "service": {"code": r.service, "name": c.service_name} if r.service else None,
            "via": {"hub": c.via} if c.via else None,
            "action": r.action,
            "user_id": r.user_id,
            "providers": list(r.providers),
            "recipients": (
                [_recipient(x) for x in c.recipients] if r.action == "mutation.publish" else None
            ),
            "entry": _b64(c.entry),
        }
        item["proof"] = (
            None
            if c.inclusion_path is None or head is None
            else {
                "leaf_index": c.leaf_index,
                "tree_size": head.tree_size,
                "inclusion_path": [_b64(h) for h in c.inclusion_path],
            }
        )
        items.append({k: v for k, v in item.items() if v is not None or k == "proof"})
    tree_head = {**head.as_dict(), "cosignatures": history.cosignatures} if head else None
    return {"tree_head": tree_head, "consultations": items, "next_before": history.next_before}


def _govstack(c: Consultation) -> dict:
    r = c.record
    answer = {
        "id": r.request_id or str(c.seq),
        "readerId": r.user_id,
        "readerInstitutionId": r.consumer,
        "readerInstitutionName": c.institution_name,
        "readerApplicationName": c.application_name,
        "searchDateTime": datetime.fromtimestamp(r.at_ms / 1000, UTC).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        ),
        "refrences": [{"ReferenceID": r.authorization}] if r.authorization else [],
    }  # sic: GovStack's spelling
    return {k: v for k, v in answer.items() if v is not None}
