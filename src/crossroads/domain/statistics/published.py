"""The operator's published statistics tables: what each one counts, from which mart, by which
dimensions (docs/statistics.md, "Published statistics").

A table is released as open data under the same suppression as the analysts' answers (it reads
the mart's one decided lattice), so that no published cell can be combined with an analyst's
answer to recover a suppressed one. Names become file names and URLs: lower-case letters,
digits and underscores.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..errors import Refusal
from .marts import mart

_NAME = re.compile(r"^[a-z0-9_]{1,64}$")
AGGREGATES = ("count", "sum", "mean")


@dataclass(frozen=True)
class PublishedTable:
    name: str
    title: str
    mart: str
    dimensions: tuple[str, ...]
    aggregate: str = "count"
    measure: str | None = None
    description: str = ""


def check(table: PublishedTable) -> PublishedTable:
    """The table if it names an existing mart, its dimensions and a measure that fits its
    aggregate; Refusal `malformed_request` otherwise."""
    if not _NAME.match(table.name):
        raise Refusal(
            "malformed_request",
            f"table name {table.name!r} is 1-64 lower-case letters, digits and underscores.",
            "name",
        )
    chosen = mart(table.mart)
    if not table.dimensions:
        raise Refusal("malformed_request", f"table {table.name} names no dimension.", "dimensions")
    chosen.check_dimensions(table.dimensions, "dimensions")
    if table.aggregate not in AGGREGATES:
        raise Refusal("malformed_request", "aggregate is count, sum or mean.", "aggregate")
    if (table.aggregate == "count") != (table.measure is None):
        raise Refusal(
            "malformed_request", "sum and mean name a measure; a count names none.", "measure"
        )
    if table.measure is not None:
        chosen.measure(table.measure)
    return table


def tables_from(document: Any) -> tuple[PublishedTable, ...]:
    """The tables of a JSON document `{"tables": [{name, title, mart, dimensions, aggregate?,
    measure?, description?}, ...]}`, each checked; names are unique."""
    items = document.get("tables") if isinstance(document, dict) else None
    if not isinstance(items, list):
        raise Refusal("malformed_request", 'the tables document is {"tables": [...]}.', "tables")
    tables: list[PublishedTable] = []
    for item in items:
        if not isinstance(item, dict):
            raise Refusal("malformed_request", "each table is an object.", "tables")
        try:
            table = PublishedTable(
                name=str(item["name"]),
                title=str(item["title"]),
                mart=str(item["mart"]),
                dimensions=tuple(str(d) for d in item["dimensions"]),
                aggregate=str(item.get("aggregate", "count")),
                measure=None if item.get("measure") is None else str(item["measure"]),
                description=str(item.get("description", "")),
            )
        except (KeyError, TypeError) as exc:
            raise Refusal(
                "malformed_request", f"a table lacks {exc}: name, title, mart, dimensions."
            ) from None
        tables.append(check(table))
    names = [t.name for t in tables]
    if len(set(names)) != len(names):
        raise Refusal("malformed_request", "two tables share a name.", "name")
    return tuple(tables)


# Shipped with the hub, used when CROSSROADS_STATISTICS_TABLES is unset.
DEFAULT_TABLES = (
    PublishedTable(
        "employment_by_quarter",
        "Jobs by quarter and joint committee",
        "employment",
        ("quarter", "joint_committee"),
        description="Jobs (a worker with one employer in a quarter) declared in the DmfA.",
    ),
    PublishedTable(
        "wages_by_quarter",
        "Mean gross quarterly wage by quarter (euro cents)",
        "employment",
        ("quarter",),
        aggregate="mean",
        measure="gross",
        description="The mean gross wage of a job in the quarter, from the DmfA.",
    ),
    PublishedTable(
        "exchanges_by_month",
        "Exchanges through the hub by month and outcome",
        "exchanges",
        ("month", "outcome"),
        description="Calls of a service by a member institution's application.",
    ),
)
