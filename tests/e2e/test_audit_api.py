"""The audit log's proofs over HTTP, checked the way an outsider would: with the standalone
verifier."""

from __future__ import annotations

import base64

import pytest

from crossroads.verifier import leaf_hash, verify_consistency, verify_inclusion, verify_tree_head

pytestmark = pytest.mark.anyio
OPERATOR = {"Authorization": "Bearer operator-secret-for-tests"}


def b64(text: str) -> bytes:
    return base64.b64decode(text)


async def test_an_exchange_is_provably_in_the_signed_log(demo):
    token = await demo.token(demo.welfare)
    asked = await demo.http.post(
        "/v1/exchange/person.identity",
        headers={"Authorization": f"Bearer {token}", "X-Request-Id": "proof-me"},
        json={"subject": demo.held_by("welfare")[0], "purpose": "SOCIAL_INTEGRATION"},
    )
    assert asked.status_code == 200, asked.text
    while await demo.hub.sequencer.step():
        pass
    old = await demo.hub.sequencer.sign_now()
    jwks = (await demo.http.get("/.well-known/jwks.json")).json()

    head = (
        await demo.http.get("/v1/audit/tree-head", headers={"Authorization": f"Bearer {token}"})
    ).json()
    size, root = verify_tree_head(head, jwks)
    entries = [
        (await demo.http.get(f"/v1/audit/entries/{i}", headers=OPERATOR)).json()
        for i in range(size)
    ]
    [mine] = [e for e in entries if e["record"].get("client_request_id") == "proof-me"]
    assert mine["record"]["outcome"] == "ok" and mine["record"]["service"] == "person.identity/1"

    proof = (
        await demo.http.get(
            "/v1/audit/proofs/inclusion",
            headers=OPERATOR,
            params={"leaf_index": mine["leaf_index"], "tree_size": size},
        )
    ).json()
    assert b64(proof["leaf_hash"]) == leaf_hash(b64(mine["entry"]))
    verify_inclusion(
        mine["leaf_index"],
        size,
        leaf_hash(b64(mine["entry"])),
        [b64(h) for h in proof["inclusion_path"]],
        root,
    )

    await demo.http.put(
        "/admin/capacities/LATER", json={"name": "Later"}, headers=OPERATOR
    )  # the log grows
    while await demo.hub.sequencer.step():
        pass
    new = await demo.hub.sequencer.sign_now()
    assert new.tree_size > old.tree_size
    consistency = (
        await demo.http.get(
            "/v1/audit/proofs/consistency",
            headers=OPERATOR,
            params={"first": old.tree_size, "second": new.tree_size},
        )
    ).json()
    verify_consistency(
        old.tree_size,
        new.tree_size,
        old.root_hash,
        new.root_hash,
        [b64(h) for h in consistency["consistency_path"]],
    )


@pytest.mark.parametrize(
    "path, params, status, code",
    [
        ("/v1/audit/proofs/inclusion", {"leaf_index": 0, "tree_size": 10**9}, 404, "not_found"),
        (
            "/v1/audit/proofs/inclusion",
            {"leaf_index": -1, "tree_size": 1},
            400,
            "malformed_request",
        ),
        (
            "/v1/audit/proofs/inclusion",
            {"leaf_index": "x", "tree_size": 1},
            400,
            "malformed_request",
        ),
        ("/v1/audit/proofs/consistency", {"first": 5, "second": 10**9}, 404, "not_found"),
        ("/v1/audit/entries/999999999", {}, 404, "not_found"),
    ],
)
async def test_bad_proof_requests_get_a_clear_error(demo, path, params, status, code):
    while await demo.hub.sequencer.step():
        pass
    response = await demo.http.get(path, params=params, headers=OPERATOR)
    assert (response.status_code, response.json()["code"]) == (status, code)


async def test_the_log_is_not_public_and_entries_are_for_the_operator(demo):
    assert (await demo.http.get("/v1/audit/tree-head")).json()["code"] == "unauthenticated"
    token = await demo.token(demo.welfare)
    forbidden = await demo.http.get(
        "/v1/audit/entries/0", headers={"Authorization": f"Bearer {token}"}
    )
    assert forbidden.status_code in (401, 403) and forbidden.json()["code"] in (
        "forbidden",
        "unauthenticated",
    )
