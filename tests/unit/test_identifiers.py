import pytest
from stdnum.be import bis as be_bis
from stdnum.be import nn

from crossroads.demo.country import enterprise_number, national_number
from crossroads.domain.errors import Refusal
from crossroads.domain.identifiers import BELGIUM, ESTONIA, scheme_for


def test_belgian_numbers_are_normalised():
    assert BELGIUM.normalise_person("85.07.30-033.28") == "85073003328"
    assert BELGIUM.normalise_person(" 85073003328 ") == "85073003328"
    assert BELGIUM.normalise_enterprise("BE 0403.170.701") == "0403170701"


def test_bis_numbers_are_persons_too():
    # A bis number: month + 40 when the sex is known.
    body = "854730033"
    bis = body + f"{97 - int(body) % 97:02d}"
    assert be_bis.is_valid(bis)
    assert BELGIUM.normalise_person(bis) == bis
    assert BELGIUM.person_kind(bis) == "bis"
    assert BELGIUM.person_kind("85073003328") == "national_register"


@pytest.mark.parametrize("value", ["85073003329", "abc", "", "1" * 80, None, 85073003328])
def test_bad_person_numbers_are_refused_with_the_field(value):
    with pytest.raises(Refusal) as refused:
        BELGIUM.normalise_person(value, "subject")
    assert refused.value.code == "invalid_identifier" and refused.value.field == "subject"


def test_a_second_scheme_plugs_in():
    scheme = scheme_for("ee")
    assert scheme is ESTONIA
    assert scheme.normalise_person("37605030299") == "37605030299"
    with pytest.raises(Refusal):
        scheme.normalise_person("85073003328")  # a Belgian number is no isikukood
    with pytest.raises(ValueError):
        scheme_for("XX")


def test_demo_generators_make_valid_numbers():
    from datetime import date

    assert nn.is_valid(national_number(date(1985, 7, 30), 33))
    assert nn.is_valid(national_number(date(2012, 2, 29), 997))
    assert BELGIUM.normalise_enterprise(enterprise_number(2_000_001))


def test_an_institution_may_be_a_member_of_a_federated_hub_of_another_scheme():
    """The registry and directory accept another known scheme's enterprise number for an
    institution (a foreign hub's member); persons and the hub's own enterprises keep one scheme."""
    assert ESTONIA.normalise_member("BE 0403.170.701") == "0403170701"
    assert BELGIUM.normalise_member("70000013") == "70000013"
    assert ESTONIA.normalise_member("70000013") == "70000013"
    with pytest.raises(Refusal) as refused:
        ESTONIA.normalise_member("0403170702", "consumer")  # a bad check digit in every scheme
    assert refused.value.code == "invalid_identifier" and refused.value.field == "consumer"
    with pytest.raises(Refusal):
        ESTONIA.normalise_enterprise("0403170701")
