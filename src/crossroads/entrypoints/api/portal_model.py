"""The harmonised information model, for everyone: services, authorizations, mutation types,
declaration forms and their anomalies (services/information_model.py), as portal pages.

Public pages: no sign-in, nothing that is not the hub's public configuration or the official
reference files. Addresses are in docs/portal.md.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

from fastapi import Query, Request
from fastapi.responses import RedirectResponse

from ...domain.errors import Refusal
from ...domain.wording import in_language
from ...services.information_model import Field
from ...templates.i18n import N_, translations
from .dependencies import ClockDep, InformationModelDep
from .hub_router import HubRouter
from .json_input import JSONRoute
from .pages import language, page
from .purposes import hub_entry_label, purpose_label

router = HubRouter(route_class=JSONRoute, include_in_schema=False)

# A field's kind, from its JSON Schema, in words.
KINDS = {
    "string": N_("text"),
    "integer": N_("whole number"),
    "number": N_("number"),
    "boolean": N_("yes or no"),
    "array": N_("list"),
    "object": N_("group of fields"),
}
SEVERITIES = {"B": N_("blocking")}
NOT_BLOCKING = N_("warning")


def kind_of(schema: Mapping[str, Any]) -> dict:
    """{"label": message id, "values": the allowed values if listed, "optional": may be null}."""
    declared = schema.get("type")
    types = declared if isinstance(declared, list) else [declared] if declared else []
    optional = "null" in types
    kinds = [t for t in types if t != "null"]
    if "enum" in schema:
        values = [str(v) for v in schema["enum"] if v is not None]
        return {"label": N_("one of"), "values": values, "optional": optional}
    if kinds and kinds[0] == "string" and schema.get("format") == "date":
        label = N_("date")
    elif kinds:
        label = KINDS.get(kinds[0], N_("any value"))
    else:
        label = N_("any value")
    return {"label": label, "values": [], "optional": optional}


def _shown(default: str, wording: Mapping[str, str], locale: str) -> str:
    """The name a reader of `locale` reads, for ordering the entries as they read them: an accented
    letter with its plain one (Ä with A, É with E), as a dictionary orders them, not after Z."""
    decomposed = unicodedata.normalize("NFKD", in_language(default, wording, locale)[0].lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _fields(fields: tuple[Field, ...]) -> list[dict]:
    return [{"name": f.name, **kind_of(f.schema)} for f in fields]


@router.get("/portal/services")
async def services(request: Request, model: InformationModelDep):
    locale, _ = language(request)
    entries = [
        {"entry": e, "fields": _fields(e.fields), "anchor": f"{e.service.code}-{e.service.version}"}
        for e in sorted(
            await model.services(),
            key=lambda e: (
                _shown(e.service.name, e.service.name_translations, locale),
                e.service.version,
            ),
        )
    ]
    return page(request, "portal/services.html", services=entries)


@router.get("/portal/mutations")
async def mutation_types(request: Request, model: InformationModelDep):
    locale, _ = language(request)
    entries = [
        {
            "entry": e,
            "fields": _fields(e.fields),
            "anchor": f"{e.mutation_type.code}-{e.mutation_type.version}",
        }
        for e in sorted(
            await model.mutation_types(),
            key=lambda e: (
                _shown(e.mutation_type.name, e.mutation_type.name_translations, locale),
                e.mutation_type.version,
            ),
        )
    ]
    return page(request, "portal/mutations.html", mutation_types=entries)


@router.get("/portal/authorizations")
async def authorizations(request: Request, model: InformationModelDep, clock: ClockDep):
    today = clock.today()
    groups = [
        {
            "group": g,
            "label": hub_entry_label("service", None, g.code),
            "flows": [
                {
                    "flow": f,
                    "purpose_label": purpose_label(f.authorization.purpose),
                    "valid": f.authorization.is_valid_on(today),
                }
                for f in g.flows
            ],
        }
        for g in await model.flows()
    ]
    # As the reader reads them: the services first, then the kinds of change, each by its name in
    # the page's language (a hub entry's label as translated).
    locale, _ = language(request)
    catalogue = translations(locale)

    def read_as(group: dict) -> tuple[bool, str]:
        g = group["group"]
        label = group["label"]
        name = (
            catalogue.gettext(label).lower()
            if label
            else _shown(g.name, g.name_translations, locale)
        )
        return g.kind != "service", name

    return page(request, "portal/authorizations.html", groups=sorted(groups, key=read_as))


@router.get("/portal/declarations")
async def forms(request: Request, model: InformationModelDep):
    return page(request, "portal/declarations.html", forms=model.forms())


@router.get("/portal/declarations/{form}")
async def form(request: Request, model: InformationModelDep, form: str):
    summary, zones = model.form(form)
    return page(request, "portal/form.html", form=summary, zones=zones)


@router.get("/portal/declarations/{form}/zones/{zone}")
async def zone(request: Request, model: InformationModelDep, form: str, zone: str):
    summary, entry = model.zone(form, zone)
    return page(
        request,
        "portal/zone.html",
        form=summary,
        entry=entry,
        severities=SEVERITIES,
        not_blocking=NOT_BLOCKING,
    )


@router.get("/portal/anomaly")
async def anomaly(
    request: Request, model: InformationModelDep, code: str = Query(..., max_length=20)
) -> RedirectResponse:
    """The look-up form's target: the zone page of an anomaly code, at that anomaly, in the
    language the address asked (`?lang=`) if it did."""
    wanted = code.strip()
    asked, chosen = language(request)
    keep = f"?lang={asked}" if chosen else ""
    for each in model.forms():
        zone = wanted.split("-", 1)[0]
        try:
            _, entry = model.zone(each.code, zone)
        except Refusal:
            continue
        if any(a.code == wanted for a in entry.anomalies):
            address = f"/portal/declarations/{each.code}/zones/{zone}{keep}#{wanted}"
            return RedirectResponse(address, status_code=303)
    raise Refusal("not_found", f"no anomaly {wanted!r} in the DIMONA or DmfA glossaries.", "code")
