"""A right's competence names a capacity or one institution, never both nor neither; the holder
it picks is the first in number order."""

from __future__ import annotations

import pytest

from crossroads.domain.errors import Refusal
from crossroads.domain.rights import Competence

A, B = "0411905847", "0200000439"


def test_a_competence_names_exactly_one_of_a_capacity_or_an_institution():
    for capacity, institution in ((None, None), ("HEALTH_INSURED", A)):
        with pytest.raises(Refusal) as refused:
            Competence("increased-reimbursement", capacity, institution)
        assert refused.value.code == "malformed_request"
    with pytest.raises(Refusal):
        Competence("increased-reimbursement", "HEALTH_INSURED", legal_basis="x" * 501)


def test_the_holder_in_the_capacity_confirms_or_the_fixed_institution():
    holders = [(A, "HEALTH_INSURED"), (B, "HEALTH_INSURED"), (B, "CHILD_BENEFICIARY")]
    assert Competence("r", capacity="HEALTH_INSURED").competent(holders) == B
    assert Competence("r", capacity="CHILD_BENEFICIARY").competent(holders) == B
    assert Competence("r", capacity="UNEMPLOYED").competent(holders) is None
    assert Competence("r", institution=A).competent([]) == A
