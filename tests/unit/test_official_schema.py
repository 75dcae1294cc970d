"""The official schemas: errors come back as the zones' anomalies, JSON is put in schema order,
and hostile XML is refused with a clear error."""

from __future__ import annotations

import pytest

from crossroads.adapters.be_reference import load_reference
from crossroads.adapters.official_forms import XmlOfficialForms
from crossroads.adapters.safe_xml import parse_untrusted
from crossroads.domain.errors import Refusal

FORM_HEADER = (
    "<Identification>DIMONA</Identification><FormCreationDate>2026-12-01</FormCreationDate>"
    "<FormCreationHour>10:00:00.000</FormCreationHour><AttestationStatus>0</AttestationStatus><TypeForm>SU</TypeForm>"
)


def dimona_xml(body: str) -> bytes:
    form = f"<Form>{FORM_HEADER}{body}</Form>"
    return f'<?xml version="1.0" encoding="UTF-8"?><Dimona>{form}</Dimona>'.encode()


GOOD_IN = (
    "<DimonaIn><StartingDate>2026-12-01</StartingDate><EmployerId><CompanyID>0403448140</CompanyID></EmployerId>"
    "<NaturalPerson><INSS>85073100130</INSS></NaturalPerson>"
    "<DimonaFeatures><JointCommissionNbr>XXX</JointCommissionNbr><WorkerType>OTH</WorkerType></DimonaFeatures></DimonaIn>"
)


@pytest.fixture(scope="module")
def forms() -> XmlOfficialForms:
    return XmlOfficialForms(load_reference(), max_bytes=1_000_000)


def test_a_valid_xml_form_is_read(forms):
    [form], anomalies = forms.read_dimona(dimona_xml(GOOD_IN))
    assert anomalies == []
    assert (form.kind, form.inss, form.employer.company_id, form.worker_type, str(form.start)) == (
        "DimonaIn",
        "85073100130",
        "0403448140",
        "OTH",
        "2026-12-01",
    )


def test_json_with_fields_in_any_order_is_the_same_form(forms):
    body = {
        "DimonaIn": {
            "DimonaFeatures": {"WorkerType": "OTH", "JointCommissionNbr": "XXX"},
            "NaturalPerson": {"INSS": "85073100130"},
            "EmployerId": {"CompanyID": "0403448140"},
            "StartingDate": "2026-12-01",
        }
    }
    [from_json], anomalies = forms.read_dimona(body)
    [from_xml], _ = forms.read_dimona(dimona_xml(GOOD_IN))
    assert anomalies == [] and from_json == from_xml


@pytest.mark.parametrize(
    "body, expected",
    [
        (
            GOOD_IN.replace("<StartingDate>2026-12-01</StartingDate>", ""),
            "00910-001",
        ),  # missing: absent
        (GOOD_IN.replace("2026-12-01", "2026-13-45"), "00910-003"),  # impossible date: invalid
        (
            GOOD_IN.replace("<WorkerType>OTH</WorkerType>", "<WorkerType>ZZZ</WorkerType>"),
            "00655-003",
        ),
        (GOOD_IN.replace("85073100130", "8507310013A"), "00024-003"),
    ],
)
def test_schema_errors_name_the_zone(forms, body, expected):
    forms_read, anomalies = forms.read_dimona(dimona_xml(body))
    assert forms_read == [] and expected in [a.code for a in anomalies]
    anomaly = next(a for a in anomalies if a.code == expected)
    assert (
        anomaly.severity == "B"
        and anomaly.path.startswith("/Dimona/Form/DimonaIn")
        and anomaly.detail
    )


def test_an_unknown_json_field_is_an_anomaly_not_a_crash(forms):
    _, anomalies = forms.read_dimona({"DimonaIn": {"StartingDate": "2026-12-01", "Salary": 5}})
    assert anomalies and all(a.severity == "B" for a in anomalies)


def _nested(depth: int) -> dict:
    body: dict = {"StartingDate": "2026-12-01"}
    for _ in range(depth):
        body = {"DimonaIn": body}
    return body


@pytest.mark.parametrize(
    "body",
    [
        {"DimonaIn": {"StartingDate": True}},
        {"DimonaIn": {"StartingDate": 1.5}},
        {"Dimona In": {}},
        {},
        _nested(900),
    ],
)
def test_json_values_that_cannot_be_xml_are_malformed_requests(forms, body):
    with pytest.raises(Refusal) as refused:
        forms.read_dimona(body)
    assert refused.value.code == "malformed_request"


def test_the_wrong_root_is_refused(forms):
    with pytest.raises(Refusal) as refused:
        forms.read_dimona(b"<DmfAOriginal/>")
    assert refused.value.code == "malformed_xml"


BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n'
    b'<!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    b"<Dimona>&lol3;</Dimona>"
)
XXE = (
    b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b"<Dimona>&x;</Dimona>"
)
EXTERNAL_DTD = (
    b'<?xml version="1.0"?><!DOCTYPE Dimona SYSTEM "http://169.254.169.254/latest/meta-data">'
    b"<Dimona/>"
)
UTF16_DOCTYPE = (
    '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE d [<!ENTITY x "y">]><Dimona>&x;</Dimona>'
).encode("utf-16")


@pytest.mark.parametrize("document", [BILLION_LAUGHS, XXE, EXTERNAL_DTD, UTF16_DOCTYPE])
def test_hostile_xml_is_refused(document):
    with pytest.raises(Refusal) as refused:
        parse_untrusted(document, 1_000_000)
    assert refused.value.code == "forbidden_xml"


@pytest.mark.parametrize(
    "document",
    [b"<Dimona><Form>", b"not xml at all", b"<Dimona>&undefined;</Dimona>", b"\xff\xfe\x00"],
)
def test_malformed_xml_is_one_clear_error(document):
    with pytest.raises(Refusal) as refused:
        parse_untrusted(document, 1_000_000)
    assert refused.value.code == "malformed_xml" and refused.value.message


def test_an_oversized_document_is_refused_before_parsing():
    with pytest.raises(Refusal) as refused:
        parse_untrusted(b"<Dimona>" + b" " * 2000 + b"</Dimona>", 1000)
    assert refused.value.code == "payload_too_large"


def test_deeply_nested_xml_is_refused_not_a_crash():
    with pytest.raises(Refusal) as refused:
        parse_untrusted(b"<a>" * 100_000 + b"</a>" * 100_000, 10_000_000)
    assert refused.value.code == "malformed_xml"
