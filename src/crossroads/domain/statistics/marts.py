"""The warehouse's marts: what each one counts, by which dimensions, with which measures.

A mart is a table of units (a job-quarter, an exchange, a delivery…) with a person each, so
that every protection knows whose records a figure is made of. Its dimensions form the fixed
lattice that analysts group by (services/statistics_queries.py): nothing else can be filtered
on, which is what keeps a query set from isolating one person (docs/statistics.md).

The rights mart counts the rights engine's decisions (docs/rights.md): a right granted or ended
for a person, by quarter, right, what led to it (a change, or a non-take-up scan), the competent
institution's answer and the person's age group.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import Refusal


@dataclass(frozen=True)
class Measure:
    """A summable column of the mart, clamped to [0, upper] per unit for differential privacy."""

    name: str
    upper: int
    unit: str


@dataclass(frozen=True)
class Mart:
    name: str
    title: str
    unit: str  # what one row is
    dimensions: tuple[str, ...]
    measures: tuple[Measure, ...] = ()

    def measure(self, name: str) -> Measure:
        for measure in self.measures:
            if measure.name == name:
                return measure
        raise Refusal(
            "malformed_request",
            f"mart {self.name} has no measure {name!r}; it has "
            f"{', '.join(m.name for m in self.measures) or 'only counts'}.",
            "measure",
        )

    def check_dimensions(self, names: list[str] | tuple[str, ...], field: str) -> None:
        unknown = [n for n in names if n not in self.dimensions]
        if unknown:
            raise Refusal(
                "malformed_request",
                f"mart {self.name} has no dimension {', '.join(unknown)}; it has "
                f"{', '.join(self.dimensions)}.",
                field,
            )


MARTS: dict[str, Mart] = {
    m.name: m
    for m in (
        Mart(
            "employment",
            "Employment and wages by quarter (DmfA)",
            "a worker's job with one employer in one quarter",
            ("quarter", "joint_committee", "worker_code"),
            (Measure("gross", 5_000_000, "euro cents"), Measure("days", 92, "days")),
        ),
        Mart(
            "jobs",
            "Employment periods (DIMONA)",
            "an employment period declared to DIMONA",
            ("start_quarter", "worker_type", "joint_committee", "status"),
        ),
        Mart(
            "social_risks",
            "Social-risk declarations",
            "a social-risk declaration",
            ("quarter", "scenario", "status"),
        ),
        Mart(
            "directory",
            "Persons in the reference directory",
            "a person's integration by an institution in a capacity",
            ("capacity", "institution", "since_year", "phase"),
        ),
        Mart(
            "exchanges",
            "Exchanges through the hub",
            "an exchange (a consumer's call of a service)",
            ("month", "service", "consumer", "purpose", "outcome"),
            (Measure("latency_ms", 60_000, "milliseconds"),),
        ),
        Mart(
            "deliveries",
            "Mutation deliveries",
            "a mutation delivered (or given up) to one subscriber",
            ("month", "mutation_type", "institution", "state"),
            (Measure("delay_ms", 86_400_000, "milliseconds"),),
        ),
        Mart(
            "rights",
            "Rights granted and ended without asking",
            "a right granted or ended for a person by the rights engine",
            ("quarter", "right_code", "change", "origin", "status", "age_group"),
        ),
    )
}


def mart(name: str) -> Mart:
    found = MARTS.get(name)
    if found is None:
        raise Refusal(
            "malformed_request",
            f"no mart {name!r}; there are {', '.join(MARTS)}.",
            "mart",
        )
    return found
