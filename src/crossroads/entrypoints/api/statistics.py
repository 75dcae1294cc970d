"""The statistics warehouse over HTTP: the analysts' aggregates (`POST /v1/statistics/queries`,
`GET /v1/statistics/budget`) and the operator's extraction and publication
(`POST /admin/statistics/extract`, `POST /admin/statistics/publish`). Thin: the use cases are
services/statistics_queries.py, statistics_extraction.py and statistics_publication.py.

An analyst is an application with an access token, like any exchange; its institution needs an
authorization for the built-in service `statistics.aggregates` whose purpose is the project.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import Depends, Query, Request
from pydantic import Field

from ...domain.callers import Caller
from ...services.statistics_queries import AnalystQuery
from .answer_models import Budget, Extracted, PublishedTables, StatisticsAnswer, WarehouseState
from .dependencies import hub_of
from .errors import openapi_errors
from .hub_router import HubRouter
from .json_input import JSONRoute
from .openapi_models import answers
from .schemas import Strict
from .security import member_application, operator

router = HubRouter(route_class=JSONRoute, tags=["statistics"])
ERRORS = openapi_errors(
    "unauthenticated",
    "member_busy",
    "forbidden",
    "no_authorization",
    "authorization_expired",
    "privacy_budget_exhausted",
    "malformed_request",
    "unsupported_media_type",
    "payload_too_large",
    "warehouse_unavailable",
)


class StatisticsQueryIn(Strict):
    project: str = Field(
        max_length=64, description="The project: the purpose of the analyst's authorization."
    )
    authorization: str | None = Field(
        None, max_length=100, description="The authorization's reference, when several fit."
    )
    mart: str = Field(max_length=64, description="employment, jobs, social_risks, directory, …")
    aggregate: Literal["count", "sum", "mean"] = "count"
    measure: str | None = Field(None, max_length=64, description="Summed column (sum, mean).")
    dimensions: list[str] = Field(
        default_factory=list, max_length=8, description="The dimensions to group by."
    )
    filters: dict[str, str] = Field(
        default_factory=dict, description="Dimension = value; only the mart's dimensions."
    )
    protection: Literal["suppression", "dp"] = "suppression"
    epsilon: float | None = Field(
        None, gt=0, description="With dp: the privacy budget this one answer spends."
    )


@router.post(
    "/v1/statistics/queries",
    responses=answers(StatisticsAnswer, ERRORS),
    summary="An aggregate of a statistics mart, with its protection and the budget it used",
)
async def ask(
    body: StatisticsQueryIn, request: Request, caller: Caller = Depends(member_application)
) -> dict[str, Any]:
    query = AnalystQuery(
        mart=body.mart,
        aggregate=body.aggregate,
        measure=body.measure,
        group_by=tuple(body.dimensions),
        filters=dict(body.filters),
        protection=body.protection,
        epsilon=body.epsilon,
    )
    answer = await hub_of(request).statistics.ask(caller, body.project, body.authorization, query)
    return {"project": body.project, **answer}


@router.get(
    "/v1/statistics/budget",
    responses=answers(Budget, ERRORS),
    summary="What the analyst has spent of the project's privacy budget",
)
async def budget(
    request: Request,
    project: str = Query(max_length=64),
    authorization: str | None = Query(None, max_length=100),
    caller: Caller = Depends(member_application),
) -> dict[str, Any]:
    return await hub_of(request).statistics.budget(caller, project, authorization)


@router.get(
    "/admin/statistics",
    responses=answers(
        WarehouseState, openapi_errors("unauthenticated", "forbidden", "warehouse_unavailable")
    ),
    summary="The warehouse's extraction positions and the tables published as open data",
    dependencies=[Depends(operator)],
)
async def warehouse_state(request: Request) -> dict[str, Any]:
    hub = hub_of(request)
    return {
        "positions": await hub.statistics_extraction.positions(),
        "published": await hub.open_data.tables(),
    }


@router.post(
    "/admin/statistics/extract",
    responses=answers(
        Extracted, openapi_errors("unauthenticated", "forbidden", "warehouse_unavailable")
    ),
    summary="Extract the stores' new records into the warehouse and rebuild the marts",
    dependencies=[Depends(operator)],
)
async def extract(request: Request) -> dict[str, Any]:
    report = await hub_of(request).statistics_extraction.run()
    return {"records": report.records, "positions": report.positions, "total": report.total}


@router.post(
    "/admin/statistics/publish",
    responses=answers(
        PublishedTables, openapi_errors("unauthenticated", "forbidden", "warehouse_unavailable")
    ),
    summary="Publish the operator's statistics tables as open data (CSV, Parquet, metadata)",
    dependencies=[Depends(operator)],
)
async def publish(request: Request) -> dict[str, Any]:
    return {"tables": await hub_of(request).statistics_publication.publish()}
