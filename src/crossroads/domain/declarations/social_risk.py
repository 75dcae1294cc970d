"""Social-risk declarations: what an employer tells the institutions when a risk occurs.

Three scenarios, in JSON with the fields the paying institutions need: the end of an employment
and the temporary unemployment hours of a month (for the unemployment office), and incapacity for
work (for the health insurance fund). The official social-risk glossaries are not among the
reference files, so the anomalies here carry Crossroads' own codes in the official form
(`SRZZZ-NNN`), listed in docs/declarations.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from .anomalies import Anomaly, Glossary
from .dimona import CANCELLED, DimonaPeriod

# Year 0001 at the least: the format check takes 0000-01-01, which Python's dates do not hold.
_DATE = {
    "type": "string",
    "format": "date",
    "pattern": r"^([1-9]\d{3}|0[1-9]\d{2}|00[1-9]\d|000[1-9])-\d{2}-\d{2}$",
}
_CENTS = {"type": "integer", "minimum": 0, "maximum": 99_999_999_999}
_COMMON = {
    "inss": {"type": "string", "maxLength": 20},
    "employer": {"type": "string", "maxLength": 20},
    "language": {"enum": ["nl", "fr", "en"]},
}

SCENARIOS: dict[str, dict[str, Any]] = {
    "unemployment.end-of-employment": {
        "type": "object",
        "additionalProperties": False,
        "required": [
            "inss",
            "employer",
            "last_day_worked",
            "end_reason",
            "weekly_hours",
            "reference_weekly_hours",
            "gross_monthly_cents",
        ],
        "properties": {
            **_COMMON,
            "last_day_worked": _DATE,
            "notice_end": _DATE,
            "end_reason": {
                "enum": [
                    "dismissal",
                    "end_of_fixed_term",
                    "resignation",
                    "mutual_agreement",
                    "force_majeure",
                ]
            },
            "weekly_hours": {"type": "number", "minimum": 0, "maximum": 60},
            "reference_weekly_hours": {"type": "number", "exclusiveMinimum": 0, "maximum": 60},
            "gross_monthly_cents": _CENTS,
            "severance_cents": _CENTS,
        },
    },
    "unemployment.temporary-hours": {
        "type": "object",
        "additionalProperties": False,
        "required": ["inss", "employer", "month", "reason", "days"],
        "properties": {
            **_COMMON,
            "month": {"type": "string", "pattern": r"^\d{4}-(0[1-9]|1[0-2])$"},
            "reason": {
                "enum": ["economic", "bad_weather", "force_majeure", "technical_accident", "strike"]
            },
            "days": {
                "type": "array",
                "minItems": 1,
                "maxItems": 31,
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["date", "hours"],
                    "properties": {
                        "date": _DATE,
                        "hours": {"type": "number", "exclusiveMinimum": 0, "maximum": 24},
                    },
                },
            },
        },
    },
    "incapacity.work": {
        "type": "object",
        "additionalProperties": False,
        "required": [
            "inss",
            "employer",
            "first_day_of_incapacity",
            "last_day_worked",
            "cause",
            "gross_monthly_cents",
        ],
        "properties": {
            **_COMMON,
            "first_day_of_incapacity": _DATE,
            "last_day_worked": _DATE,
            "cause": {"enum": ["illness", "accident_private", "occupational_disease", "pregnancy"]},
            "gross_monthly_cents": _CENTS,
            "guaranteed_salary_until": _DATE,
            "resumed_work_on": _DATE,
        },
    },
}

GLOSSARY = Glossary(
    {
        "SR001-003": (
            "B",
            {"nl": "Ongeldig", "fr": "Invalide", "en": "Invalid INSS", "de": "Ungültig"},
        ),
        "SR002-235": (
            "B",
            {
                "nl": "Niet opgenomen in het repertorium",
                "fr": "Non repris dans le répertoire",
                "en": "Employer not in the register",
                "de": "Nicht im Verzeichnis aufgeführt",
            },
        ),
        "SR003-354": (
            "B",
            {
                "nl": "Geen Dimonaperiode bij deze werkgever op die datum",
                "fr": "Pas de période Dimona chez cet employeur à cette date",
                "en": "No DIMONA period with this employer on that date",
                "de": "Kein DIMONA-Zeitraum bei diesem Arbeitgeber an diesem Datum",
            },
        ),
        "SR004-014": (
            "B",
            {
                "nl": "Datum voorafgaand aan de laatste gewerkte dag",
                "fr": "Date antérieure au dernier jour de travail",
                "en": "Date before the last day worked",
                "de": "Datum vor dem letzten Arbeitstag",
            },
        ),
        "SR005-008": (
            "B",
            {
                "nl": "Dag buiten de aangegeven maand",
                "fr": "Jour en dehors du mois déclaré",
                "en": "Day outside the month declared",
                "de": "Tag außerhalb des erklärten Monats",
            },
        ),
    }
)


@dataclass(frozen=True)
class RiskDecision:
    anomalies: list[Anomaly]
    effective: date  # the day the risk occurs, the mutation's effective date


def key_date(scenario: str, body: dict[str, Any]) -> date:
    if scenario == "unemployment.temporary-hours":
        return min(date.fromisoformat(d["date"]) for d in body["days"])
    return date.fromisoformat(body["last_day_worked"])


def check(
    scenario: str, body: dict[str, Any], employer: str, periods: list[DimonaPeriod]
) -> RiskDecision:
    """Rules beyond the JSON Schema: dates in order, and the worker employed by this employer
    (a DIMONA period) on the day the risk occurs."""
    g = GLOSSARY
    found: list[Anomaly] = []
    day = key_date(scenario, body)
    if scenario == "unemployment.temporary-hours":
        for index, entry in enumerate(body["days"]):
            if not entry["date"].startswith(body["month"]):
                found.append(
                    g.anomaly(
                        "SR005-008",
                        f"/days/{index}/date",
                        f"{entry['date']} is not in {body['month']}",
                    )
                )
    if scenario == "incapacity.work" and date.fromisoformat(body["first_day_of_incapacity"]) < day:
        found.append(
            g.anomaly("SR004-014", "/first_day_of_incapacity", f"before the last day worked, {day}")
        )
    if (
        scenario == "unemployment.end-of-employment"
        and body.get("notice_end")
        and date.fromisoformat(body["notice_end"]) < day
    ):
        found.append(g.anomaly("SR004-014", "/notice_end", f"before the last day worked, {day}"))
    if not any(
        p.employer == employer and p.status != CANCELLED and p.overlaps(day, day) for p in periods
    ):
        found.append(
            g.anomaly("SR003-354", "/employer", f"no DIMONA period of {employer} covers {day}")
        )
    return RiskDecision(found, day)
