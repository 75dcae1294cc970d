"""A document off its schema is refused with a sentence naming the field and the rule; the sentence
never carries a value the reader may not see, and never grows with the document.

A provider's answer is about a person, and the consumer receives only the fields its
authorization allows: the refusal of an answer off the response schema once quoted the answer
(all of it, when the root was at fault) to the consumer. A publisher's state read for an initial
synchronisation went into the audit log the same way. What a member sent itself is quoted back,
abbreviated: a 50,000-value list once came back whole in the sentence."""

from __future__ import annotations

import pytest

from crossroads.demo import country
from tests.e2e.test_mutations_api import PUBLISHER, TYPE, call, move, with_test_type

pytestmark = pytest.mark.anyio

OPERATOR = {"Authorization": "Bearer operator-secret-for-tests"}
NR = country.BY_KEY["nr"].number
FIELDS = ["name", "first_names", "birth_date", "gender", "nationality", "death_date"]


async def _identity_with_schema(demo, version: str, schema: dict) -> None:
    """A version of person.identity, answered by the national register's demo source, whose
    response schema that source's answers do not meet."""
    answer = await demo.http.put(
        f"/admin/services/person.identity/{version}",
        headers=OPERATOR,
        json={
            "name": "Identity, stricter",
            "provider": NR,
            "path": "/services/person.identity/1",
            "response_fields": FIELDS,
            "response_schema": schema,
        },
    )
    assert answer.status_code == 201, answer.text


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "array"},
        {"type": "object", "properties": {"gender": {"type": "integer"}}},
        {"type": "object", "properties": {"nationality": {"maxLength": 0}}},
    ],
    ids=["root", "gender", "nationality"],
)
async def test_an_answer_off_its_schema_is_refused_without_what_the_consumer_may_not_see(
    demo, schema
):
    await _identity_with_schema(demo, "2", schema)
    subject = demo.held_by("welfare")[0]
    token = await demo.token(demo.welfare)
    answer = await demo.http.post(
        "/v1/exchange/person.identity",
        headers={"Authorization": f"Bearer {token}"},
        json={"subject": subject, "purpose": "SOCIAL_INTEGRATION"},
    )
    assert answer.json()["code"] == "invalid_provider_response", answer.text
    message = answer.json()["message"]
    # ISC/24/101 gives the welfare centre the name, first names and birth date: not the gender
    # or the nationality, nor the rest of the answer the source sent.
    for unseen in ('"gender"', '"nationality"', '"M"', '"F"', '"X"', '"BE"', "{"):
        assert unseen not in message, message
    assert "does not match the response schema" in message


async def test_a_publishers_own_payload_is_quoted_back_abbreviated(demo):
    hub = await with_test_type(demo)
    mutation = {**move("long", "79122244457"), "payload": {"city": [0] * 40_000}}
    answer = await call(hub, "POST", f"/v1/mutations/{TYPE}", PUBLISHER, json=mutation)
    assert answer.status_code == 400, answer.text
    refused = answer.json()
    assert refused["code"] == "malformed_request" and refused["field"] == "payload.city"
    assert len(refused["message"]) < 400, len(refused["message"])
    assert refused["message"].startswith("payload.city: [0,0")
    assert refused["message"].endswith('is not of type "string"')


@pytest.mark.parametrize("quote", [True, False], ids=["own", "another_members"])
def test_the_first_error_of_a_list_of_wrong_items_costs_no_more_than_finding_it(quote):
    """jsonschema-rs's `iter_errors` built every error before handing out the first: quadratic
    in the items that break the rule. 40,000 (a member's body holds up to 50,000 values) held a
    hub process 0.8 s; the 500,000 of a 1 MiB provider's answer, 16 s; of 16 MiB, minutes."""
    import time

    from crossroads.services.schema_check import first_error

    schema = {
        "type": "object",
        "properties": {"names": {"type": "array", "items": {"type": "string"}}},
    }
    started = time.perf_counter()
    error = first_error(schema, {"names": [0] * 200_000}, quote=quote)
    assert time.perf_counter() - started < 1.0
    assert error is not None and error[0] == ["names", 0]


async def test_a_social_risk_form_of_many_wrong_items_is_refused_at_once(demo):
    """The social-risk forms were checked with every error of the form built and sorted: 40,000
    wrong items in `days` (a 1 MiB body holds 50,000 values) held the hub process 3-8 s."""
    import time

    from crossroads.demo import employers
    from tests.e2e.test_declarations_api import headers

    subject, employer, _start, _ = employers.employed(demo.seeded["subjects"])[0]
    h = await headers(demo)
    hours = {"inss": subject, "employer": employer, "month": "2026-11", "reason": "economic"}
    started = time.perf_counter()
    refused = await demo.http.post(
        "/v1/declarations/social-risk/unemployment.temporary-hours",
        json={**hours, "days": [1] * 40_000},
        headers=h,
    )
    elapsed = time.perf_counter() - started
    assert refused.status_code == 400 and refused.json()["code"] == "malformed_request"
    assert refused.json()["field"] == "days", refused.text
    assert len(refused.json()["message"]) < 400
    assert elapsed < 1.0, elapsed
    bad_date = {**hours, "days": [{"date": "2026-02-30", "hours": 7.6}]}
    refused = await demo.http.post(
        "/v1/declarations/social-risk/unemployment.temporary-hours", json=bad_date, headers=h
    )
    assert refused.status_code == 400 and refused.json()["field"] == "days/0/date", refused.text


def test_another_members_document_is_not_quoted_by_the_path_of_its_error_either():
    """The path to an error is the document's own keys: a provider's answer whose key is the
    data (an `additionalProperties` map, a 1 MiB key) is named `*`; the keys the schema names and
    item positions are kept. The caller's own document keeps its path whole."""
    from crossroads.services.schema_check import first_error

    schema = {
        "type": "object",
        "properties": {"periods": {"type": "array", "items": {"type": "object"}}},
        "additionalProperties": {"type": "integer"},
    }
    secret = "85073100130-" + "x" * 1_000_000
    assert first_error(schema, {"periods": [], secret: "y"}, quote=False)[0] == ["*"]
    assert first_error(schema, {"periods": [{}, 3]}, quote=False)[0] == ["periods", 1]
    assert first_error(schema, {"periods": [], "mine": "y"})[0] == ["mine"]
