"""The mutations the declarations service publishes, as the hub's catalogue registers them."""

from __future__ import annotations

from ..mutations import MutationType

_DATE = {"type": ["string", "null"], "format": "date"}
_TEXT = {"type": ["string", "null"], "maxLength": 200}
_PERIOD = {
    "type": "object",
    "properties": {
        "period_id": {"type": "integer"},
        "employer": {"type": "string"},
        "worker_type": {"type": "string"},
        "joint_committee": _TEXT,
        "start": _DATE,
        "end": _DATE,
        "status": {"type": "string"},
        "declaration_id": {"type": "integer"},
    },
    "required": ["period_id", "employer", "start"],
}
_PERIOD_FIELDS = (
    "period_id",
    "employer",
    "worker_type",
    "joint_committee",
    "start",
    "end",
    "status",
    "declaration_id",
)


def mutation_types(publisher: str) -> list[MutationType]:
    """`publisher`: the institution the declarations service publishes as (the NSSO)."""
    return [
        MutationType(
            "employment.started",
            "1",
            "An employment starts (DIMONA IN)",
            publisher,
            _PERIOD_FIELDS,
            _PERIOD,
        ),
        MutationType(
            "employment.ended",
            "1",
            "An employment ends (DIMONA OUT, or an update that sets the end)",
            publisher,
            _PERIOD_FIELDS,
            _PERIOD,
        ),
        MutationType(
            "employment.changed",
            "1",
            "An employment's dates change (DIMONA update)",
            publisher,
            _PERIOD_FIELDS,
            _PERIOD,
        ),
        MutationType(
            "employment.cancelled",
            "1",
            "A DIMONA period is cancelled",
            publisher,
            _PERIOD_FIELDS,
            _PERIOD,
        ),
        MutationType(
            "wages.declared",
            "1",
            "A worker's wages and working time for a quarter (DmfA)",
            publisher,
            (
                "quarter",
                "employer",
                "worker_code",
                "gross_cents",
                "days",
                "hours",
                "declaration_id",
            ),
            {
                "type": "object",
                "required": ["quarter", "employer"],
                "properties": {
                    "quarter": {"type": "integer"},
                    "employer": {"type": "string"},
                    "worker_code": {"type": "string"},
                    "gross_cents": {"type": "integer"},
                    "days": {"type": "integer"},
                    "hours": {"type": "integer"},
                    "declaration_id": {"type": "integer"},
                },
            },
        ),
        MutationType(
            "social-risk.declared",
            "1",
            "An employer declares a social risk (unemployment, incapacity)",
            publisher,
            (
                "scenario",
                "employer",
                "last_day_worked",
                "end_reason",
                "month",
                "reason",
                "days",
                "first_day_of_incapacity",
                "cause",
                "gross_monthly_cents",
                "declaration_id",
            ),
            {
                "type": "object",
                "required": ["scenario", "employer"],
                "properties": {"scenario": {"type": "string"}, "employer": {"type": "string"}},
            },
        ),
    ]
