"""An official XML schema of the social security (DIMONA, DmfA): validation whose errors come
back as glossary anomalies, and the JSON form of the same fields.

Every global element of these schemas documents its glossary zone (`<xs:documentation>00910`),
so a schema error on an element names its zone: a missing element is the zone's anomaly `-001`
(absent), a value the schema refuses is `-003` (invalid) or, in glossaries without it, `-002`
(not numeric) or `-008` (outside the allowed domain), an element in the wrong place is `-005`
(forbidden) or `-091` (wrong order).

The JSON form uses the XML element names as keys. JSON objects have no order and XSD sequences
do, so the children are put in the schema's order before the same validation runs: one set of
rules for both channels. (xmlschema could decode XML to JSON, but not build the ordered tree
back from JSON with our zone mapping; the ordering is a few lines over the schema's own text.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from lxml import etree

from ..domain.declarations.anomalies import Anomaly, Glossary
from ..domain.errors import Refusal
from .safe_xml import parse_trusted

XS = "{http://www.w3.org/2001/XMLSchema}"
_STEP_INDEX = re.compile(r"\[\d+\]")
_EXPECTED = re.compile(r"Expected is(?: one of)? \( ([^)]*) \)")
MAX_ERRORS_READ = 200  # schema errors turned into anomalies per form, at most


@dataclass
class OfficialSchema:
    root: str  # the document element: Dimona, DmfAOriginal
    schema: etree.XMLSchema
    zones: dict[str, str]  # element name -> glossary zone
    order: dict[str, list[str]]  # element name -> its children's names, in the schema's order
    glossary: Glossary

    @classmethod
    def load(cls, xsd: Path, root: str, glossary: Glossary) -> OfficialSchema:
        document = parse_trusted(str(xsd))
        schema = etree.XMLSchema(document)
        top = document.getroot()
        elements = {e.get("name"): e for e in top.findall(f"{XS}element")}
        types = {t.get("name"): t for t in top.findall(f"{XS}complexType")}
        zones = {}
        for name, element in elements.items():
            doc = element.findtext(f"{XS}annotation/{XS}documentation")
            if doc and doc.strip().isdigit():
                zones[name] = doc.strip()
        order = {name: _children(element, types) for name, element in elements.items()}
        return cls(root, schema, zones, order, glossary)

    def validate(self, tree: etree._ElementTree) -> list[Anomaly]:
        """The schema's verdict as anomalies (an empty list when the document is valid)."""
        if tree.getroot().tag != self.root:
            raise Refusal(
                "malformed_xml",
                f"the document element is <{tree.getroot().tag}>, not <{self.root}>.",
            )
        if self.schema.validate(tree):
            return []
        found, seen = [], set()
        # A hostile form can break the schema once per element or attribute (120,000 attributes
        # on one element held a hub process 4 s, mostly here): the first errors say enough.
        for error in islice(self.schema.error_log, MAX_ERRORS_READ):
            anomaly = self._anomaly(error)
            key = (anomaly.code, anomaly.path)
            if key not in seen:
                seen.add(key)
                found.append(anomaly)
        return found

    def _anomaly(self, error) -> Anomaly:
        path = _STEP_INDEX.sub("", error.path or "")
        element = path.rsplit("/", 1)[-1]
        message = error.message
        detail = f"line {error.line}: {message}"[:300]
        expected = _EXPECTED.search(message)
        if "Missing child element" in message and expected:
            missing = expected.group(1).split(",")[0].strip()
            return self._zone_anomaly(missing, f"{path}/{missing}", ("001",), detail)
        if "This element is not expected" in message:
            parent = path.rsplit("/", 2)[-2] if path.count("/") >= 2 else ""
            if expected and element in self.order.get(parent, ()):
                # A known element arriving where a required one should be: the required one is
                # missing.
                missing = expected.group(1).split(",")[0].strip()
                return self._zone_anomaly(
                    missing, f"{path.rsplit('/', 1)[0]}/{missing}", ("001",), detail
                )
            return self._zone_anomaly(element, path, ("005", "091", "146", "003"), detail)
        return self._zone_anomaly(element, path, ("003", "002", "008", "093", "146"), detail)

    def _zone_anomaly(
        self, element: str, path: str, numbers: tuple[str, ...], detail: str
    ) -> Anomaly:
        zone = self.zones.get(element)
        for number in numbers:
            if zone and self.glossary.has(f"{zone}-{number}"):
                return self.glossary.anomaly(f"{zone}-{number}", path, detail)
        # An element the glossary has no such anomaly for (or no zone at all): the root's
        # "unknown/invalid" anomaly keeps the answer in the official form, the detail says where.
        return self.glossary.anomaly(self.fallback, path, detail)

    @property
    def fallback(self) -> str:
        return {"Dimona": "90372-089", "DmfAOriginal": "90169-089"}.get(self.root, "90372-089")

    def from_json(self, body: dict, wrap: list[str]) -> etree._ElementTree:
        """Build the document from its JSON form. `wrap` names the elements around `body`
        (e.g. ["Dimona", "Form"] for one DIMONA form given as its content)."""
        inner = etree.Element(wrap[-1])
        self._fill(inner, body)
        node = inner
        for name in reversed(wrap[:-1]):
            outer = etree.Element(name)
            outer.append(node)
            node = outer
        return etree.ElementTree(node)

    def _fill(self, parent: etree._Element, value: object, depth: int = 0) -> None:
        if depth > _MAX_DEPTH:
            raise Refusal(
                "malformed_request",
                f"the form nests deeper than {_MAX_DEPTH} levels; the official forms do not.",
            )
        if isinstance(value, dict):
            rank = {name: index for index, name in enumerate(self.order.get(parent.tag, []))}
            for key in sorted(value, key=lambda k: rank.get(k, len(rank))):
                if not _NAME.match(key):
                    raise Refusal(
                        "malformed_request",
                        f"{key[:60]!r} is not a field of the official form.",
                        key[:60],
                    )
                items = value[key] if isinstance(value[key], list) else [value[key]]
                for item in items:
                    if item is None:
                        continue
                    child = etree.SubElement(parent, key)
                    self._fill(child, item, depth + 1)
        elif isinstance(value, bool):
            raise Refusal(
                "malformed_request",
                f"{parent.tag} takes a number or a text, not true/false.",
                parent.tag,
            )
        elif isinstance(value, str):
            if _NOT_XML.search(value):
                raise Refusal(
                    "malformed_request",
                    f"{parent.tag} holds a character that XML cannot carry (a control character,"
                    " or half of a surrogate pair); the official form has no place for it.",
                    parent.tag,
                )
            parent.text = value
        elif isinstance(value, int):
            parent.text = str(value)
        elif isinstance(value, float) and value.is_integer():
            parent.text = str(int(value))
        else:
            raise Refusal(
                "malformed_request", f"{parent.tag} takes a number or a text.", parent.tag
            )


_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,80}$")
# What XML 1.0 does not allow in text (its Char production): most C0 controls, lone surrogates,
# U+FFFE and U+FFFF. The XML channel cannot send them either (the document is not well formed).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_MAX_DEPTH = 32  # the DmfA, the deepest form, nests about ten levels


def _children(element: etree._Element, types: dict[str, etree._Element]) -> list[str]:
    """The names of an element's children in document order, a base type's sequence first."""
    node = element.find(f"{XS}complexType")
    if node is None and element.get("type") in types:
        node = types[element.get("type")]
    if node is None:
        return []
    return _refs(node, types)


def _refs(node: etree._Element, types: dict[str, etree._Element]) -> list[str]:
    names: list[str] = []
    for extension in node.iter(f"{XS}extension"):
        base = types.get(extension.get("base"))
        if base is not None:
            names += _refs(base, types)
    for child in node.iter(f"{XS}element"):
        ref = child.get("ref")
        if ref and ref not in names:
            names.append(ref)
    return names
