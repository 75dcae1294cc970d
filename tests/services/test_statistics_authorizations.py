"""An analyst's authorization for statistics.aggregates takes no capacity, from a registry
document as from the API; every other authorization still needs one."""

from __future__ import annotations

import pytest

from crossroads.domain.errors import Refusal
from crossroads.entrypoints.registry_document import load_document

pytestmark = pytest.mark.anyio
NR, FUND = "0403170701", "0411905847"


def document(service: str, allowed: list[str]) -> dict:
    return {
        "institutions": [
            {"enterprise_number": NR, "name": "Register", "base_url": "http://nr.example"},
            {"enterprise_number": FUND, "name": "Fund"},
        ],
        "services": [
            {
                "code": "person.identity",
                "version": "1",
                "name": "Identity",
                "provider": NR,
                "response_fields": ["name"],
            }
        ],
        "authorizations": [
            {
                "reference": "STAT/1",
                "consumer": FUND,
                "service": service,
                "purpose": "LABOUR_MARKET",
                "legal_basis": "Act of 15 January 1990, art. 5",
                "allowed_fields": allowed,
                "valid_from": "2024-01-01",
            }
        ],
    }


async def test_a_statistics_authorization_needs_no_capacity(world):
    counts = await load_document(world.registry, document("statistics.aggregates", ["jobs"]))
    assert counts["authorizations"] == 1
    with pytest.raises(Refusal) as refused:
        await load_document(world.registry, document("person.identity", ["name"]))
    assert refused.value.code == "malformed_request"
    assert refused.value.field == "required_capacities"
    with pytest.raises(Refusal) as unknown:
        await load_document(world.registry, document("statistics.aggregates", ["payroll"]))
    assert unknown.value.code == "malformed_request"
