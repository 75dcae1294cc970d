"""A service or mutation type named without a version resolves to its highest version, in the
order of domain/versions.py, the same for the exchange and for mutations, on both stores; a
version that is not a number is ordered, never a fault."""

from __future__ import annotations

from datetime import date

import pytest

from crossroads.demo import country

pytestmark = pytest.mark.anyio

OPERATOR = {"Authorization": "Bearer operator-secret-for-tests"}
NR = country.BY_KEY["nr"].number
TYPE = "test.versioned-move"


async def bearer(demo, client: str) -> dict:
    return {"Authorization": f"Bearer {await demo.token(client)}"}


async def put_identity_version(demo, version: str) -> None:
    """Another version of person.identity, answered by the national register's demo source."""
    answer = await demo.http.put(f"/admin/services/person.identity/{version}", headers=OPERATOR,
                                 json={"name": f"Identity, version {version}", "provider": NR,
                                       "path": "/services/person.identity/1",
                                       "response_fields": ["name", "birth_date"]})
    assert answer.status_code == 201, answer.text


async def ask_identity(demo) -> dict:
    subject = demo.held_by("welfare")[0]
    answer = await demo.http.post("/v1/exchange/person.identity",
                                  headers=await bearer(demo, demo.welfare),
                                  json={"subject": subject, "purpose": "SOCIAL_INTEGRATION"})
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_the_exchange_resolves_the_highest_version_numerically_and_orders_named_ones(
        demo_on):
    await put_identity_version(demo_on, "1.2")
    await put_identity_version(demo_on, "1.a")  # a name below every number in its place
    assert (await ask_identity(demo_on))["version"] == "1.2"
    await put_identity_version(demo_on, "1.9")
    await put_identity_version(demo_on, "1.10")
    answered = await ask_identity(demo_on)
    assert answered["version"] == "1.10"
    services = (await demo_on.http.get("/admin/services", headers=OPERATOR)).json()
    listed = {s["version"] for s in services if s["code"] == "person.identity"}
    assert listed == {"1", "1.2", "1.a", "1.9", "1.10"}


async def put_type_version(demo, version: str) -> None:
    answer = await demo.http.put(f"/admin/mutation-types/{TYPE}/{version}", headers=OPERATOR, json={
        "name": "Change of address", "publisher": NR, "fields": ["city"],
        "schema": {"type": "object", "required": ["city"],
                   "properties": {"city": {"type": "string"}}}})
    assert answer.status_code == 201, answer.text


async def test_publishing_without_a_version_takes_the_highest_version_as_the_exchange_does(
        demo_on):
    for version in ("1.a", "1.9", "1.10", "1.2"):
        await put_type_version(demo_on, version)
    answer = await demo_on.http.put("/admin/authorizations/ISC/26/901", headers=OPERATOR, json={
        "consumer": country.BY_KEY["welfare"].number, "service": TYPE,
        "purpose": "SOCIAL_INTEGRATION",
        "legal_basis": "Law of 26 May 2002, art. 19", "required_capacities": ["SOCIAL_ASSISTANCE"],
        "allowed_fields": ["city"], "valid_from": "2020-01-01"})
    assert answer.status_code == 201, answer.text
    welfare = await bearer(demo_on, demo_on.welfare)
    subscribed = await demo_on.http.post("/v1/subscriptions", headers=welfare, json={
        "mutation_type": TYPE, "purpose": "SOCIAL_INTEGRATION"})
    assert subscribed.status_code == 201, subscribed.text

    assisted = demo_on.held_by("welfare")[0]
    published = await demo_on.http.post(
        f"/v1/mutations/{TYPE}", headers=await bearer(demo_on, f"{NR}:register-app"),
        json={"id": "v-1", "subject": assisted, "effective_date": date.today().isoformat(),
              "payload": {"city": "Namur"}})
    assert published.status_code == 201, published.text
    [message] = (await demo_on.http.get("/v1/mailbox", headers=welfare)).json()["messages"]
    assert message["event"]["type"] == f"be.crossroads.{TYPE}.v1.10"
