"""Every path a DIMONA or DmfA anomaly can point at is a path of the official schema.

The paths are read from the code itself (the elements passed to `DimonaForm.at`, the f-strings
that extend a record's path, the absolute paths written out), so that a new rule pointing at an
element the schema does not have fails here rather than confusing an integrator.
"""

from __future__ import annotations

import ast
import re
from datetime import date
from pathlib import Path

import pytest

from crossroads.adapters.be_reference import load_reference
from crossroads.adapters.official_forms import XmlOfficialForms
from crossroads.domain.declarations import dimona, employers
from crossroads.domain.declarations.dimona import DimonaForm
from crossroads.domain.declarations.employers import EmployerRef
from crossroads.domain.identifiers import scheme_for

SRC = Path(dimona.__file__).resolve().parents[2]
# Where anomalies about the official forms are made (social risks point into their own JSON).
PATH_MAKERS = ["domain/declarations/dimona.py", "domain/declarations/dmfa.py", "services/declarations.py",
               "services/batch_processing.py", "adapters/form_reading.py"]
_INDEX = re.compile(r"\[(?:\d+|\{\})\]")
HOLE = "{}"


def schema_paths(schema) -> set[str]:
    """Every element path the schema allows, from its document element down (indexes left out)."""
    found: set[str] = set()

    def walk(name: str, prefix: str) -> None:
        path = f"{prefix}/{name}"
        if path in found or path.count("/") > 16:
            return
        found.add(path)
        for child in schema.order.get(name, []):
            walk(child, path)

    walk(schema.root, "")
    return found


@pytest.fixture(scope="module")
def reference():
    return load_reference()


@pytest.fixture(scope="module")
def official(reference) -> dict[str, set[str]]:
    return {"Dimona": schema_paths(reference.dimona), "DmfAOriginal": schema_paths(reference.dmfa)}


def _text(node: ast.JoinedStr) -> str:
    return "".join(part.value if isinstance(part, ast.Constant) else HOLE for part in node.values)


def emitted_paths() -> tuple[list[str], list[str], list[str]]:
    """(elements given to `.at`, tails added to a record's path, absolute paths) in the code."""
    elements, tails, absolute = [], [], []
    for name in PATH_MAKERS:
        tree = ast.parse((SRC / name).read_text())
        pieces = {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in node.values}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "at"
                    and node.args and isinstance(node.args[0], ast.Constant)):
                elements.append(node.args[0].value)
            elif isinstance(node, ast.JoinedStr):
                text = _INDEX.sub("", _text(node))
                if text.startswith(HOLE + "/"):
                    tail = text[len(HOLE):].split(HOLE)[0].rstrip("/")
                    if tail:
                        tails.append(tail)
                elif text.startswith(("/Dimona", "/DmfAOriginal")):
                    absolute.append(text.split(HOLE)[0].rstrip("/"))
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in pieces \
                    and node.value.startswith(("/Dimona/", "/DmfAOriginal/")):
                absolute.append(_INDEX.sub("", node.value))
    return elements, tails, absolute


def test_the_code_emits_paths_at_all():
    elements, tails, absolute = emitted_paths()
    assert "EmployerId/CompanyID" in elements and "/INSS" in tails
    assert "/DmfAOriginal/Form/EmployerDeclaration/NOSSRegistrationNbr" in absolute


def test_every_element_a_dimona_rule_names_is_in_a_form_of_the_schema(official):
    elements, _, _ = emitted_paths()
    bodies = [f"/Dimona/Form/{kind}" for kind in dimona.KINDS]
    wrong = [e for e in elements if not any(f"{body}/{e}" in official["Dimona"] for body in bodies)]
    assert wrong == []


def test_the_inss_is_looked_for_where_each_form_carries_it(official):
    assert set(dimona.INSS_ELEMENT) == set(dimona.KINDS)
    for kind, element in dimona.INSS_ELEMENT.items():
        assert f"/Dimona/Form/{kind}/{element}" in official["Dimona"], kind


def test_every_tail_added_to_a_record_path_continues_a_path_of_the_schema(official):
    _, tails, _ = emitted_paths()
    every = official["Dimona"] | official["DmfAOriginal"]
    wrong = [t for t in tails if not any(p + t in every for p in every)]
    assert wrong == []


def test_every_absolute_path_written_out_is_in_the_schema(official):
    _, _, absolute = emitted_paths()
    every = official["Dimona"] | official["DmfAOriginal"]
    assert [p for p in absolute if p not in every] == []


def test_a_bad_inss_in_a_dimona_in_points_at_the_natural_person(reference, official):
    form = DimonaForm(kind=dimona.IN, employer=EmployerRef(company_id="0403448140"), inss="85073100131",
                      start=date(2026, 12, 1), worker_type="OTH", joint_committee="XXX",
                      path="/Dimona/Form/DimonaIn")
    rules = dimona.DimonaRules(reference.dimona.glossary, reference.joint_committees, scheme_for("BE").person_or_none)
    employer = employers.Employer("0403448140", None, "Test", True)
    decision = dimona.decide(form, rules, dimona.Register(employer, []), date(2026, 12, 1))
    [bad] = [a for a in decision.anomalies if a.code == "00024-003"]
    assert bad.path == "/Dimona/Form/DimonaIn/NaturalPerson/INSS" and bad.path in official["Dimona"]
    assert all(_INDEX.sub("", a.path) in official["Dimona"] for a in decision.anomalies if a.path)


@pytest.mark.parametrize("body, name", [
    ({"DimonaIn": {"StartingDate": "2026-13-45", "EmployerId": {"CompanyID": "0403448140"}}}, "DimonaIn"),
    ({"DimonaOut": {"DimonaPeriodId": "x", "EndingDate": "2026-12-01"}}, "DimonaOut"),
    ({"DimonaCancel": {"DimonaPeriodId": "x"}}, "DimonaCancel"),
    ({"NotAForm": {}}, "Dimona"),
])
def test_a_form_the_schema_refused_goes_by_its_own_name(reference, body, name):
    forms, anomalies = XmlOfficialForms(reference, 1_000_000).read_dimona(body)
    assert forms == [] and anomalies
    assert dimona.refused_form_name(anomalies) == name
