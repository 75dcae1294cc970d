"""Who the audit log and a citizen's list of consultations name is the member that acted: no two
members of the demo share an enterprise number, so that the rights engine's look-ups are never
shown to a person as their own access to their data, and no member's application holds the
own-access member's authorizations (docs/security.md, "Who the records name")."""

from __future__ import annotations

import pytest

from crossroads.demo import country, own_access

from ..conftest import start_demo_hub

pytestmark = pytest.mark.anyio


@pytest.fixture
async def demo(tmp_path):
    demo = await start_demo_hub(tmp_path, persons=20, demo=True)
    yield demo
    await demo.http.aclose()
    await demo.hub.close()


async def test_each_member_of_the_demo_is_registered_under_its_own_number(demo):
    members = [(m.number, m.name) for m in country.MEMBERS]
    members.append((own_access.PORTAL.enterprise_number, own_access.PORTAL.name))
    assert len({number for number, _ in members}) == len(members)
    queries = demo.hub.registry_queries
    for number, name in members:
        found = await queries.find_institution(number)
        assert found is not None and found.name == name, (number, name)
    # The people's own-access member acts only through the citizen's session: no application.
    assert await queries.applications(own_access.PORTAL.enterprise_number) == []


async def test_a_citizen_sees_the_rights_engines_look_ups_under_the_engines_name(demo):
    person = country.persons(20)[0]
    engine = country.BY_KEY["rights"]
    await demo.hub.rights.evaluate(person)
    history = await demo.hub.history.page(demo.hub.hasher.key(person), limit=200, proofs=False)
    by_engine = [c for c in history.consultations if c.record.application == "engine-app"]
    assert by_engine, "the engine read the person's facts through the hub"
    assert {(c.record.consumer, c.institution_name) for c in by_engine} == {
        (engine.number, engine.name)
    }
