"""The registry's use cases (services/registry.py) on the fakes: what the operator may register,
what it refuses, and an audit record for every change."""

from __future__ import annotations

import pytest

from crossroads.domain.errors import Refusal
from crossroads.domain.registry import Capacity, Institution, RoutedProvider, Service

from .conftest import FUND, NR

pytestmark = pytest.mark.anyio


async def test_every_change_is_audited_as_create_update_or_delete(world):
    admin = world.registry
    _, created = await admin.put_institution(Institution(NR, "National Register"))
    _, again = await admin.put_institution(Institution(NR, "National Register (renamed)"))
    assert (created, again) == (True, False)
    await admin.delete("institution", (NR,))
    assert [(r.action, r.target) for r in world.records("registry")] == [
        ("institution.create", NR), ("institution.update", NR), ("institution.delete", NR)]
    with pytest.raises(Refusal) as refused:
        await admin.delete("institution", (NR,))
    assert refused.value.code == "not_found"


async def test_a_service_names_a_registered_provider_and_valid_schemas(world):
    admin = world.registry
    with pytest.raises(Refusal) as refused:
        await admin.put_service(Service("person.identity", "1", "Identity", ("name",), provider=NR))
    assert (refused.value.code, refused.value.field) == ("not_found", "provider")
    await admin.put_institution(Institution(NR, "National Register"))
    with pytest.raises(Refusal) as refused:
        await admin.put_service(Service("person.identity", "1", "Identity", ("name",), provider=NR,
                                        response_schema={"type": "nonsense"}))
    assert (refused.value.code, refused.value.field) == ("malformed_request", "response_schema")
    with pytest.raises(Refusal) as refused:
        await admin.put_service(Service("directory.holders", "1", "Holders", ("x",), provider=NR))
    assert refused.value.code == "conflict"
    await admin.put_service(Service("person.identity", "1.10", "Identity", ("name",), provider=NR))
    assert [r.target for r in world.records("registry")][-1] == "person.identity/1.10"


async def test_a_routed_provider_needs_an_address_and_the_right_to_integrate(world):
    admin = world.registry
    await admin.put_institution(Institution(FUND, "Fund"))
    await admin.put_capacity(Capacity("HEALTH_INSURED", "Insured"))
    await admin.put_service(Service("health.affiliation", "1", "Affiliation", ("fund",),
                                    routed_capacity="HEALTH_INSURED"))
    with pytest.raises(Refusal) as refused:
        await admin.put_routed_provider(RoutedProvider("health.affiliation", FUND))
    assert (refused.value.code, refused.value.field) == ("conflict", "institution")
    await admin.put_institution(Institution(FUND, "Fund", base_url="http://fund.test"))
    with pytest.raises(Refusal) as refused:
        await admin.put_routed_provider(RoutedProvider("health.affiliation", FUND))
    assert refused.value.code == "no_integration_right"
    assert await world.store.registry.list_routed_providers() == []
