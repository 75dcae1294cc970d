"""The operator's forms: each change the admin API allows a role is a form on its page, posted
with the session's CSRF token, made through the API's own services and audited with the operator
as actor; a role the API would refuse sees no form and is refused the post with the API's code;
a value the service refuses comes back as the form, with the error beside its field in the
reader's language; with four eyes on, a change is a proposal another operator approves on the
four-eyes page."""

from __future__ import annotations

import base64
import json
import re

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crossroads.demo import country
from crossroads.domain.errors import Refusal
from crossroads.entrypoints.api.operator_forms import FORM_BY_ID

from ..conftest import start_demo_hub
from .portal_browsing import switch_link
from .test_operators import records, register, signed_in

pytestmark = pytest.mark.anyio
WELFARE = country.BY_KEY["welfare"].number
NEW_MEMBER = country.enterprise_number(2_000_777)


def public_jwk(kid: str) -> str:
    raw = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return f'{{"kty": "OKP", "crv": "Ed25519", "x": "{x}", "kid": "{kid}"}}'


# Each form, in an order in which each one's change can follow the previous: (page, form id,
# what is typed, the audit record's action and target it makes).
ACTIONS = [
    (
        "members",
        "add-member",
        {"enterprise_number": NEW_MEMBER, "name": "Pension Fund", "member_class": "GOV"},
        ("institution.create", NEW_MEMBER),
    ),
    (
        "applications",
        "add-application",
        {
            "institution": NEW_MEMBER,
            "code": "pension-app",
            "name": "Pensions",
            "jwks": f'{{"keys": [{public_jwk("k1")}]}}',
        },
        ("application.create", f"{NEW_MEMBER}:pension-app"),
    ),
    (
        "applications",
        "register-key",
        {"application": f"{NEW_MEMBER}:pension-app", "jwk": public_jwk("k2")},
        ("application.update", f"{NEW_MEMBER}:pension-app"),
    ),
    (
        "applications",
        "application-active",
        {"application": f"{NEW_MEMBER}:pension-app"},  # the box left empty: disabled
        ("application.update", f"{NEW_MEMBER}:pension-app"),
    ),
    (
        "authorizations",
        "add-authorization",
        {
            "reference": "ISC/26/900",
            "consumer": WELFARE,
            "service": "person.identity",
            "purpose": "SOCIAL_INTEGRATION",
            "legal_basis": "deliberation ISC/26/900",
            "allowed_fields": "name",
            "required_capacities": "SOCIAL_ASSISTANCE",
            "valid_from": "2026-01-01",
        },
        ("authorization.create", "ISC/26/900"),
    ),
    (
        "authorizations",
        "end-authorization",
        {"reference": "ISC/26/900", "valid_to": "2026-06-30"},
        ("authorization.update", "ISC/26/900"),
    ),
    (
        "integration-rights",
        "add-integration-right",
        {"institution": NEW_MEMBER, "capacity": "SOCIAL_ASSISTANCE", "legal_basis": "law X"},
        ("integration_right.create", f"{NEW_MEMBER}/SOCIAL_ASSISTANCE"),
    ),
    (
        "integration-rights",
        "withdraw-integration-right",
        {"right": f"{NEW_MEMBER}/SOCIAL_ASSISTANCE"},
        ("integration_right.delete", f"{NEW_MEMBER}/SOCIAL_ASSISTANCE"),
    ),
    (
        "mutation-types",
        "add-mutation-type",
        {
            "code": "pension.start",
            "version": "1",
            "name": "Pension started",
            "publisher": NEW_MEMBER,
            "fields": "start, amount",
            "schema": '{"type": "object"}',
        },
        ("mutation_type.create", "pension.start/1"),
    ),
    ("dead-letters", "replay", {"seqs": "999999"}, ("mutation.replay", None)),
    ("dead-letters", "drop", {"seqs": "999998"}, ("mutation.drop", None)),
    (
        "applications",
        "add-application",
        {"institution": NEW_MEMBER, "code": "other", "name": "x", "jwks": '{"keys": []}'},
        None,  # refused below: the member must still be there for it
    ),
    ("members", "remove-member", {"enterprise_number": NEW_MEMBER}, None),
]
# A value each form refuses: (form id, what is typed, the field the error stands beside).
BAD_INPUT = [
    (
        "add-member",
        {"enterprise_number": "12", "name": "X", "member_class": "GOV"},
        "enterprise_number",
    ),
    ("add-member", {"enterprise_number": NEW_MEMBER, "name": "", "member_class": "GOV"}, "name"),
    (  # a member of a peer this hub does not pin (docs/federation.md, "What a pin trusts")
        "add-member",
        {"enterprise_number": NEW_MEMBER, "name": "X", "member_class": "GOV", "peer": "Z"},
        "peer",
    ),
    ("add-application", {"institution": WELFARE, "code": "a", "name": "A", "jwks": "{"}, "jwks"),
    (
        "add-application",
        {"institution": WELFARE, "code": "a", "name": "A", "jwks": '{"keys": []}'},
        "jwks",
    ),
    ("register-key", {"application": f"{WELFARE}:case-app", "jwk": '{"kty": "RSA"}'}, "jwk"),
    ("add-authorization", {**ACTIONS[4][2], "valid_from": "1 January"}, "valid_from"),
    ("add-authorization", {**ACTIONS[4][2], "service": "no.such.service"}, "service"),
    ("add-authorization", {**ACTIONS[4][2], "allowed_fields": "salary"}, "allowed_fields"),
    ("end-authorization", {"reference": "", "valid_to": "2026-06-30"}, "reference"),
    ("add-integration-right", {"institution": WELFARE, "capacity": "NOPE"}, "capacity"),
    (
        "add-mutation-type",
        {**ACTIONS[8][2], "publisher": WELFARE, "schema": '{"type": 5}'},
        "schema",
    ),
    ("replay", {"seqs": "twelve"}, "seqs"),
    ("drop", {"seqs": ""}, "seqs"),
]
PATHS = {form_id: FORM_BY_ID[form_id].action for _, form_id, _, _ in ACTIONS}


@pytest.fixture
async def four_eyes_demo(tmp_path):
    demo = await start_demo_hub(tmp_path, persons=20, demo=True, four_eyes=True)
    yield demo
    await demo.http.aclose()
    await demo.hub.close()


async def test_each_form_changes_the_registry_audited_with_the_operator(operators_demo):
    demo = operators_demo
    await register(demo, "person:erin", "registry-editor")
    erin, csrf = await signed_in(demo, "erin")
    for page, form_id, typed, audited in ACTIONS[:11]:
        shown = await erin.get(f"/operator/{page}?lang=en")
        assert f'id="{form_id}"' in shown.text, form_id
        done = await erin.post(PATHS[form_id], data={**typed, "csrf": csrf})
        assert done.status_code == 303, (form_id, done.text)
        assert done.headers["location"] == f"/operator/{page}"
        after = await erin.get(done.headers["location"] + "?lang=en")
        assert 'id="done"' in after.text, form_id
        assert form_id != "replay" or "0 messages are queued again" in after.text
        assert form_id != "drop" or "0 messages are dropped" in after.text
        ours = [r for r in await records(demo) if r.action == audited[0]]
        assert ours and ours[-1].actor == "person:erin", form_id
        assert audited[1] is None or ours[-1].target == audited[1], (form_id, ours[-1].target)
    key_set = (await demo.hub.registry_queries.application(NEW_MEMBER, "pension-app")).jwks
    assert [k["kid"] for k in key_set["keys"]] == ["k1", "k2"]
    application = await demo.hub.registry_queries.application(NEW_MEMBER, "pension-app")
    assert application.active is False
    ended = await demo.hub.registry_queries.authorization("ISC/26/900")
    assert ended.valid_to is not None and ended.valid_to.isoformat() == "2026-06-30"
    await erin.post(PATHS["add-application"], data={**ACTIONS[11][2], "csrf": csrf})
    removed = await erin.post(PATHS["remove-member"], data={**ACTIONS[12][2], "csrf": csrf})
    assert removed.status_code in (303, 409), removed.text
    await erin.aclose()


async def test_a_role_without_edit_sees_no_form_and_its_post_is_refused_as_the_api_refuses(
    operators_demo,
):
    demo = operators_demo
    await register(demo, "person:audrey", "auditor")
    audrey, csrf = await signed_in(demo, "audrey")
    for page, form_id, typed, _ in ACTIONS:
        shown = await audrey.get(f"/operator/{page}?lang=en")
        assert shown.status_code == 200, (page, shown.text)
        assert f'id="{form_id}"' not in shown.text and 'id="changes"' not in shown.text
        refused = await audrey.post(PATHS[form_id], data={**typed, "csrf": csrf})
        assert refused.status_code == 403, (form_id, refused.text)
        assert refused.headers["x-road-error"] == "role_required"
        assert "<html" in refused.text
    numbers = [i.enterprise_number for i in await demo.hub.registry_queries.institutions()]
    assert NEW_MEMBER not in numbers
    await audrey.aclose()


async def test_a_form_without_the_sessions_csrf_token_is_refused(operators_demo):
    demo = operators_demo
    await register(demo, "person:erin", "registry-editor")
    erin, _ = await signed_in(demo, "erin")
    for _, form_id, typed, _ in ACTIONS:
        for token in ({}, {"csrf": "forged"}):
            refused = await erin.post(PATHS[form_id], data={**typed, **token})
            assert refused.status_code == 403, (form_id, refused.text)
            assert refused.headers["x-road-error"] == "csrf_failed"
    assert NEW_MEMBER not in [
        i.enterprise_number for i in await demo.hub.registry_queries.institutions()
    ]
    anonymous = await demo.http.post(PATHS["add-member"], data=ACTIONS[0][2])
    assert anonymous.status_code == 401 and anonymous.headers["x-road-error"] == "unauthenticated"
    await erin.aclose()


async def test_bad_input_comes_back_as_the_form_with_the_error_beside_its_field(operators_demo):
    demo = operators_demo
    await register(demo, "person:erin", "registry-editor")
    erin, csrf = await signed_in(demo, "erin")
    for form_id, typed, field in BAD_INPUT:
        page = await erin.post(
            f"{FORM_BY_ID[form_id].action}?lang=fr", data={**typed, "csrf": csrf}
        )
        assert 400 <= page.status_code < 500, (form_id, page.status_code, page.text)
        assert page.headers["content-language"] == "fr"
        error = re.search(
            rf'<p class="field-error" id="{form_id}-{field}-error">(.*?)</p>', page.text, re.S
        )
        assert error, (form_id, field, page.text[-3000:])
        assert f'id="{form_id}-{field}" ' in page.text or f'id="{form_id}-{field}"' in page.text
        assert 'aria-invalid="true"' in page.text
        kept = next((v for v in typed.values() if v), "")  # what was typed is typed still
        assert kept.replace('"', "&#34;") in page.text or kept in page.text, form_id
        # The language switch reloads the form's page, not the address the form was sent to.
        switched = await erin.get(switch_link(page.text, "de"))
        assert switched.status_code == 200, (form_id, switched.text[-2000:])
        assert f'action="{FORM_BY_ID[form_id].action}' in switched.text, form_id
    french = await erin.post("/operator/members?lang=fr", data={**BAD_INPUT[1][1], "csrf": csrf})
    assert "Remplissez ce champ." in french.text
    refused = [r for r in await records(demo) if r.kind == "refusal" or r.outcome != "ok"]
    assert refused, "a refused form is audited as a refused API request is"
    await erin.aclose()


async def test_four_eyes_a_form_proposes_and_another_operator_approves_on_the_page(four_eyes_demo):
    demo = four_eyes_demo
    await register(demo, "person:erin", "registry-editor")
    await register(demo, "person:abel", "approver")
    erin, erin_csrf = await signed_in(demo, "erin")
    abel, abel_csrf = await signed_in(demo, "abel")
    typed = ACTIONS[4][2]
    proposed = await erin.post(PATHS["add-authorization"], data={**typed, "csrf": erin_csrf})
    assert proposed.status_code == 303
    notice = (await erin.get("/operator/authorizations?lang=en")).text
    proposal_id = re.search(r"proposal ([0-9a-f-]{36})", notice).group(1)
    assert [p.id for p in await demo.hub.four_eyes.list("pending")] == [proposal_id]
    with pytest.raises(Refusal):
        await demo.hub.registry_queries.authorization("ISC/26/900")
    # The proposer has no approve button (and no right to approve); the approver has it.
    own = await erin.get("/operator/proposals?lang=en")
    assert f'id="approve-{proposal_id}"' not in own.text
    refused = await erin.post(
        f"/operator/proposals/{proposal_id}/approve", data={"csrf": erin_csrf}
    )
    assert refused.status_code == 403 and refused.headers["x-road-error"] == "role_required"
    page = await abel.get("/operator/proposals?lang=nl")
    assert f'id="approve-{proposal_id}"' in page.text
    assert 'id="add-authorization"' not in (await abel.get("/operator/authorizations")).text
    forged = await abel.post(f"/operator/proposals/{proposal_id}/approve", data={})
    assert forged.headers["x-road-error"] == "csrf_failed"
    approved = await abel.post(
        f"/operator/proposals/{proposal_id}/approve", data={"csrf": abel_csrf}
    )
    assert approved.status_code == 303, approved.text
    applied = await demo.hub.registry_queries.authorization("ISC/26/900")
    assert applied.legal_basis == "deliberation ISC/26/900"
    trail = [
        (r.action, r.actor)
        for r in await records(demo)
        if r.action.startswith(("proposal", "authorization"))
    ]
    assert ("proposal.create", "person:erin") in trail and (
        "proposal.approve",
        "person:abel",
    ) in trail
    assert ("authorization.create", "person:abel") in trail
    again = await abel.post(
        f"/operator/proposals/{proposal_id}/approve?lang=de", data={"csrf": abel_csrf}
    )
    assert again.status_code == 409 and 'id="refused"' in again.text
    await erin.aclose()
    await abel.aclose()


async def test_an_approver_never_approves_their_own_proposal(four_eyes_demo):
    demo = four_eyes_demo
    await register(demo, "person:ada", "admin")
    ada, csrf = await signed_in(demo, "ada")
    typed = {"institution": WELFARE, "capacity": "SOCIAL_ASSISTANCE", "legal_basis": "law Y"}
    await ada.post(PATHS["add-integration-right"], data={**typed, "csrf": csrf})
    [proposal] = await demo.hub.four_eyes.list("pending")
    page = await ada.get("/operator/proposals?lang=en")
    assert (
        f'id="approve-{proposal.id}"' not in page.text and f'id="reject-{proposal.id}"' in page.text
    )
    refused = await ada.post(f"/operator/proposals/{proposal.id}/approve", data={"csrf": csrf})
    assert refused.status_code == 403 and refused.headers["x-road-error"] == "own_proposal"
    withdrawn = await ada.post(
        f"/operator/proposals/{proposal.id}/reject", data={"csrf": csrf, "reason": "typo"}
    )
    assert withdrawn.status_code == 303
    [decided] = await demo.hub.four_eyes.list("rejected")
    assert decided.decided_by == "person:ada" and decided.reason == "typo"
    await ada.aclose()


async def test_four_eyes_a_key_an_address_or_a_provider_from_a_form_is_a_proposal(
    four_eyes_demo,
):
    demo = four_eyes_demo
    await register(demo, "person:erin", "registry-editor")
    await register(demo, "person:abel", "approver")
    erin, erin_csrf = await signed_in(demo, "erin")
    abel, abel_csrf = await signed_in(demo, "abel")
    register_nr = country.BY_KEY["nr"].number
    posts = [
        ("register-key", {"application": f"{WELFARE}:case-app", "jwk": public_jwk("mine")}),
        (
            "add-member",
            {
                "enterprise_number": register_nr,
                "name": "National Register",
                "member_class": "GOV",
                "base_url": "https://collector.example/api",
            },
        ),
    ]
    services = await demo.http.get(
        "/admin/services", headers={"Authorization": "Bearer operator-secret-for-tests"}
    )
    identity = next(s for s in services.json() if s["code"] == "person.identity")
    moved = {
        **{k: identity[k] for k in ("code", "version", "name", "path")},
        "provider": country.BY_KEY["fund_a"].number,
        "response_fields": ", ".join(identity["response_fields"]),
        "request_schema": json.dumps(identity["request_schema"]),
        "response_schema": json.dumps(identity["response_schema"]),
    }
    posts.append(("add-service", moved))
    proposal_ids = []
    for form_id, typed in posts:
        posted = await erin.post(FORM_BY_ID[form_id].action, data={**typed, "csrf": erin_csrf})
        assert posted.status_code == 303, (form_id, posted.text)
        notice = (await erin.get(f"{posted.headers['location']}?lang=fr")).text
        proposal_ids.append(re.search(r"([0-9a-f-]{36})", notice).group(1))
    pending = {p.id: p for p in await demo.hub.four_eyes.list("pending")}
    assert [pending[i].kind for i in proposal_ids] == ["application", "institution", "service"]
    now = await demo.hub.registry_queries.service("person.identity", identity["version"])
    assert now.provider == identity["provider"]
    application = await demo.hub.registry_queries.application(WELFARE, "case-app")
    assert "mine" not in [k["kid"] for k in application.jwks["keys"]]
    member = await demo.hub.registry_queries.institution(register_nr)
    assert member.base_url != "https://collector.example/api"

    approved = await abel.post(
        f"/operator/proposals/{proposal_ids[0]}/approve", data={"csrf": abel_csrf}
    )
    assert approved.status_code == 303, approved.text
    application = await demo.hub.registry_queries.application(WELFARE, "case-app")
    assert "mine" in [k["kid"] for k in application.jwks["keys"]]
    # Disabling takes away only: applied at once, "Saved".
    disabled = await erin.post(
        PATHS["application-active"], data={"application": f"{WELFARE}:case-app", "csrf": erin_csrf}
    )
    assert disabled.status_code == 303
    assert not (await demo.hub.registry_queries.application(WELFARE, "case-app")).active
    assert len(await demo.hub.four_eyes.list("pending")) == 2
    page = (await abel.get("/operator/proposals?lang=en")).text
    assert "a key an application did not have" in page
    await erin.aclose()
    await abel.aclose()
