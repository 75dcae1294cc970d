"""The published statistics, for anyone: the open-data files (`/statistics/open-data/…`) and a
page of charts (`/statistics/`, one of the portal's pages, in the reader's language),
server-rendered SVG with a table beside each chart: no script, nothing from elsewhere. Both
read the files `crossroads statistics publish` wrote, never the warehouse, so any of the hub's
processes serves them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import FileResponse, HTMLResponse

from ...domain.errors import Refusal
from ...domain.statistics.charts import bar_chart
from ...templates.i18n import N_
from .answer_models import PublishedTables
from .dependencies import hub_of
from .errors import openapi_errors
from .hub_router import HubRouter
from .json_input import JSONRoute
from .openapi_models import answers
from .pages import page as portal_page

# The shipped tables' titles and descriptions (domain/statistics/published.py DEFAULT_TABLES),
# marked here for the catalogues: a shipped table is shown in the reader's language, an
# operator's own as the operator wrote it.
SHIPPED = {
    "employment_by_quarter": (
        N_("Jobs by quarter and joint committee"),
        N_("Jobs (a worker with one employer in a quarter) declared in the DmfA."),
    ),
    "wages_by_quarter": (
        N_("Mean gross quarterly wage by quarter (euro cents)"),
        N_("The mean gross wage of a job in the quarter, from the DmfA."),
    ),
    "exchanges_by_month": (
        N_("Exchanges through the hub by month and outcome"),
        N_("Calls of a service by a member institution's application."),
    ),
}
# A dimension whose values are the hub's refusal codes: each cell says it in the reader's words.
CODED = frozenset({"outcome"})


def _shipped(metadata: dict) -> bool:
    """Whether a table is one the hub ships, unchanged (its texts then have translations)."""
    texts = SHIPPED.get(metadata["name"])
    return texts is not None and texts == (metadata["title"], metadata.get("description", ""))


def _generated_ms(metadata: dict) -> int | None:
    try:
        return int(datetime.fromisoformat(str(metadata.get("generated_at"))).timestamp() * 1000)
    except ValueError:
        return None


router = HubRouter(route_class=JSONRoute, prefix="/statistics", tags=["published statistics"])
OPEN_DATA = "/statistics/open-data"
_MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
    "json": "application/json",
}


@router.get("/", response_class=HTMLResponse, summary="The published statistics, with charts")
async def page(request: Request) -> HTMLResponse:
    open_data = hub_of(request).open_data
    tables = []
    for metadata in await open_data.tables():
        rows = await open_data.rows(metadata["name"])
        dimensions = metadata["dimensions"]
        values = [None if r["value"] == "" else float(r["value"]) for r in rows]
        # A category the source left empty is a dash, in every language.
        cells = [[r[d] or "–" for d in dimensions] for r in rows]
        tables.append(
            {
                "meta": metadata,
                "shipped": _shipped(metadata),
                "generated_ms": _generated_ms(metadata),
                "coded": [i for i, d in enumerate(dimensions) if d in CODED],
                "chart": bar_chart(
                    [(" · ".join(c), v) for c, v in zip(cells, values, strict=True)]
                ),
                "rows": [{"cells": c, "value": v} for c, v in zip(cells, values, strict=True)],
            }
        )
    return portal_page(request, "portal/statistics.html", tables=tables, open_data=OPEN_DATA)


@router.get(
    "/open-data/",
    summary="The metadata of every published statistics table",
    responses=answers(PublishedTables, {}),
)
async def index(request: Request) -> dict[str, Any]:
    return {"tables": await hub_of(request).open_data.tables()}


@router.get(
    "/open-data/{filename}",
    response_class=FileResponse,
    responses={
        **openapi_errors("not_found"),
        200: {
            "description": "The file, by its suffix",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/vnd.apache.parquet": {
                    "schema": {"type": "string", "format": "binary"}
                },
                "application/json": {"schema": {"type": "object"}},
            },
        },
    },
    summary="A published table as CSV, Parquet or its metadata (JSON)",
)
async def download(filename: str, request: Request) -> FileResponse:
    path = hub_of(request).open_data.file(filename)
    if path is None:
        raise Refusal("not_found", f"no published file {filename[:80]!r}.", "filename")
    return FileResponse(
        path,
        media_type=_MEDIA[path.suffix.lstrip(".")],
        headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "public, max-age=300"},
    )
