"""The portal's DIMONA forms (IN, OUT, update, cancel): which fields each has, the checks made on
the server before the form is declared (so a mistake is shown beside its field, in the reader's
language, without JavaScript), the official form built from the fields, and the field an
anomaly of the declarations service points at (so the glossary's explanation shows there too).

The declaration itself is the declarations service's (services/declarations.py): the same
schema, rules, register and mandates as for the API; this module only fills in the form.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from ...domain.declarations.anomalies import Anomaly
from ...domain.errors import Refusal
from ...domain.identifiers import IdentifierScheme
from ...templates.i18n import N_

IN, OUT, UPDATE, CANCEL = "in", "out", "update", "cancel"
FORMS = {IN: "DimonaIn", OUT: "DimonaOut", UPDATE: "DimonaUpdate", CANCEL: "DimonaCancel"}
TITLES = {
    IN: N_("DIMONA IN: the start of an employment"),
    OUT: N_("DIMONA OUT: the end of an employment"),
    UPDATE: N_("DIMONA update: change the dates of an employment"),
    CANCEL: N_("DIMONA cancel: an employment that did not take place"),
}
# The worker types the form offers (the schema's code list has more, for special statutes).
WORKER_TYPES = {
    "OTH": N_("Ordinary employee (OTH)"),
    "STU": N_("Student (STU)"),
    "FLX": N_("Flexi-job (FLX)"),
    "EXT": N_("Occasional worker in hospitality (EXT)"),
}
PLANNED_HOURS = frozenset({"STU"})


@dataclass(frozen=True)
class Field:
    name: str  # the form field
    label: str  # message id
    kind: str  # text, date, number, select
    required: bool
    element: str  # the official element it fills, as anomalies' paths end


EMPLOYER = Field("employer", N_("Employer (enterprise number)"), "select", True, "CompanyID")
INSS = Field("inss", N_("National number of the worker"), "text", True, "INSS")
PERIOD = Field("period_id", N_("DIMONA period number"), "number", True, "DimonaPeriodId")
START = Field("start", N_("First day of work"), "date", True, "StartingDate")
END = Field("end", N_("Last day of work"), "date", True, "EndingDate")
END_OPTIONAL = Field("end", N_("Last day of work (if known)"), "date", False, "EndingDate")
START_OPTIONAL = Field("start", N_("New first day of work"), "date", False, "StartingDate")
WORKER = Field("worker_type", N_("Worker type"), "select", True, "WorkerType")
COMMITTEE = Field(
    "joint_committee", N_("Joint committee (XXX: none)"), "text", True, "JointCommissionNbr"
)
HOURS = Field("planned_hours", N_("Planned hours (students)"), "number", False, "PlannedHoursNbr")
FIELDS = {
    IN: (EMPLOYER, INSS, START, END_OPTIONAL, WORKER, COMMITTEE, HOURS),
    OUT: (EMPLOYER, PERIOD, END),
    UPDATE: (EMPLOYER, PERIOD, START_OPTIONAL, END_OPTIONAL),
    CANCEL: (EMPLOYER, PERIOD),
}
REQUIRED = N_("This field is required.")
NOT_A_DATE = N_("Write a date as year-month-day, for example 2026-12-01.")
NOT_A_NUMBER = N_("Write a whole number.")
NOT_OFFERED = N_("Choose one of the values offered.")
HOURS_FOR_STUDENTS = N_("Planned hours are required for a student, and only for a student.")
END_BEFORE_START = N_("The last day is before the first day.")


def check(
    kind: str, values: dict[str, str], employers: list[str], scheme: IdentifierScheme
) -> dict[str, str]:
    """Field -> message id, for each field the server refuses before declaring; `employers`:
    the enterprise numbers the signed-in person may declare for."""
    errors: dict[str, str] = {}
    for field in FIELDS[kind]:
        value = values.get(field.name, "").strip()
        if not value:
            if field.required:
                errors[field.name] = REQUIRED
            continue
        if field.kind == "date" and _day(value) is None:
            errors[field.name] = NOT_A_DATE
        elif field.kind == "number" and not (value.isdigit() and len(value) <= 12):
            errors[field.name] = NOT_A_NUMBER
        elif (field is EMPLOYER and value not in employers) or (
            field is WORKER and value not in WORKER_TYPES
        ):
            errors[field.name] = NOT_OFFERED
        elif field is INSS:
            try:
                scheme.normalise_person(value, "inss")
            except Refusal:
                errors[field.name] = N_("This is not a valid national number.")
    if kind == IN and "worker_type" not in errors and "planned_hours" not in errors:
        student = values.get("worker_type") in PLANNED_HOURS
        if student != bool(values.get("planned_hours", "").strip()):
            errors["planned_hours"] = HOURS_FOR_STUDENTS
    start, end = _day(values.get("start", "")), _day(values.get("end", ""))
    if start and end and end < start and "end" not in errors:
        errors["end"] = END_BEFORE_START
    return errors


def document(kind: str, values: dict[str, str]) -> dict[str, Any]:
    """The official form (its JSON shape) from checked fields."""
    get = {k: v.strip() for k, v in values.items() if v.strip()}
    body: dict[str, Any] = {"EmployerId": {"CompanyID": get["employer"]}}
    if kind == IN:
        body["StartingDate"] = get["start"]
        if "end" in get:
            body["EndingDate"] = get["end"]
        body["NaturalPerson"] = {"INSS": get["inss"]}
        body["DimonaFeatures"] = {
            "WorkerType": get["worker_type"],
            "JointCommissionNbr": get["joint_committee"],
        }
        if "planned_hours" in get:
            body["PlannedHoursNbr"] = int(get["planned_hours"])
    else:
        body = {"DimonaPeriodId": int(get["period_id"]), **body}
        for name, element in (("start", "StartingDate"), ("end", "EndingDate")):
            if name in get and kind in (OUT, UPDATE):
                body[element] = get[name]
    return {FORMS[kind]: body}


def field_of(kind: str, anomaly: Anomaly) -> str | None:
    """The form field an anomaly points at (by the element its path ends with), if any."""
    element = (anomaly.path or "").rsplit("/", 1)[-1]
    return next((f.name for f in FIELDS[kind] if f.element == element), None)


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None
