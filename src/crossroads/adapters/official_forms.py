"""DIMONA and DmfA documents, in XML or in their JSON form, read through the official schemas."""

from __future__ import annotations

from datetime import datetime

from lxml import etree

from ..domain.declarations.anomalies import Anomaly
from ..domain.declarations.dimona import DimonaForm
from ..domain.declarations.dmfa import DmfaDeclaration
from ..domain.errors import Refusal
from ..services.ports import OfficialForms
from .be_reference import BelgianReference
from .form_reading import dimona_forms, dmfa_declaration
from .safe_xml import parse_untrusted

# The official schemas declare no attribute at all, so a form's XML holds an '=' only in its
# namespace declarations (and, rarely, in a text). A hostile form can hold one per attribute:
# 120,000 attributes on one element cost 4 s of schema errors. Counting the bytes costs nothing.
MAX_EQUALS_SIGNS = 1_000


def _readable(document: bytes, max_bytes: int) -> etree._ElementTree:
    if document.count(b"=") > MAX_EQUALS_SIGNS:
        raise Refusal(
            "malformed_xml",
            f"the document holds more than {MAX_EQUALS_SIGNS:,} '=' signs: the official forms "
            "carry no attributes (namespace declarations aside).",
        )
    return parse_untrusted(document, max_bytes)


def _form_header(identification: str, now: datetime) -> dict:
    """The fields every official form opens with; a JSON declarant may leave them out."""
    return {
        "Identification": identification,
        "FormCreationDate": now.date().isoformat(),
        "FormCreationHour": now.strftime("%H:%M:%S.000"),
        "AttestationStatus": 0,
        "TypeForm": "SU",
    }


class XmlOfficialForms(OfficialForms):
    def __init__(self, reference: BelgianReference, max_bytes: int, now=datetime.now) -> None:
        self._reference = reference
        self._max_bytes = max_bytes
        self._now = now

    def read_dimona(self, document: bytes | dict) -> tuple[list[DimonaForm], list[Anomaly]]:
        schema = self._reference.dimona
        if isinstance(document, bytes):
            tree = _readable(document, self._max_bytes)
        else:
            tree = schema.from_json(
                {**_form_header("DIMONA", self._now()), **_json_object(document)},
                ["Dimona", "Form"],
            )
        anomalies = schema.validate(tree)
        if anomalies:
            return [], anomalies
        return dimona_forms(tree), []

    def read_dmfa(self, document: bytes | dict) -> tuple[DmfaDeclaration | None, list[Anomaly]]:
        schema = self._reference.dmfa
        if isinstance(document, bytes):
            tree = _readable(document, self._max_bytes)
        else:
            tree = schema.from_json(
                {
                    **_form_header("DMFA", self._now()),
                    "EmployerDeclaration": _json_object(document),
                },
                ["DmfAOriginal", "Form"],
            )
        anomalies = schema.validate(tree)
        if anomalies:
            return None, anomalies
        return dmfa_declaration(tree), []


def _json_object(document: object) -> dict:
    if not isinstance(document, dict) or not document:
        raise Refusal(
            "malformed_request", "the declaration is a JSON object with the official form's fields."
        )
    return document
