"""The operator's forms for services, capacities, routed providers, operators, employers and
mandates: each change is made through the admin API's own service and audited with the operator
as actor; a role the API would refuse sees no form and is refused the post with the API's code
(operators need `manage`, the others `edit`); a post without the session's CSRF token is refused;
a value the service refuses comes back as the form with the error beside its field, in the
reader's language; the employers' register comes a page at a time."""

from __future__ import annotations

import re

import pytest

from crossroads.demo import country
from crossroads.entrypoints.api.operator_forms import FORM_BY_ID
from crossroads.entrypoints.api.operator_register_tables import PAGE

from .test_operators import records, register, signed_in

pytestmark = pytest.mark.anyio
WELFARE = country.BY_KEY["welfare"].number
FUND = country.BY_KEY["fund_a"].number
OFFICE = country.BY_KEY["payroll"].number
NEW_EMPLOYER = country.enterprise_number(3_000_123)

# Each form, in an order in which each change can follow the previous: (page, form id, what is
# typed, the audit record's action and target).
ACTIONS = [
    (
        "capacities",
        "add-capacity",
        {"code": "PENSIONER", "name": "Receives a pension"},
        ("capacity.create", "PENSIONER"),
    ),
    (
        "capacities",
        "add-capacity",
        {"code": "SHORT_LIVED", "name": "Registered by mistake"},
        ("capacity.create", "SHORT_LIVED"),
    ),
    ("capacities", "remove-capacity", {"code": "SHORT_LIVED"}, ("capacity.delete", "SHORT_LIVED")),
    (
        "services",
        "add-service",
        {
            "code": "pension.amount",
            "version": "1",
            "name": "Pension amount",
            "provider": WELFARE,
            "path": "/pensions",
            "response_fields": "amount, since",
            "request_schema": '{"type": "object"}',
            "response_schema": '{"type": "object"}',
        },
        ("service.create", "pension.amount/1"),
    ),
    (
        "services",
        "add-service",
        {
            "code": "pension.fund",
            "version": "1",
            "name": "Pension fund",
            "routed_capacity": "PENSIONER",
            "response_fields": "fund",
            "request_schema": '{"type": "object"}',
            "response_schema": '{"type": "object"}',
        },
        ("service.create", "pension.fund/1"),
    ),
    (
        "integration-rights",
        "add-integration-right",
        {"institution": FUND, "capacity": "PENSIONER", "legal_basis": "law of pensions"},
        ("integration_right.create", f"{FUND}/PENSIONER"),
    ),
    (
        "routed-providers",
        "add-routed-provider",
        {"service": "pension.fund", "institution": FUND},
        ("routed_provider.create", f"pension.fund/{FUND}"),
    ),
    (
        "routed-providers",
        "remove-routed-provider",
        {"provider": f"pension.fund/{FUND}"},
        ("routed_provider.delete", f"pension.fund/{FUND}"),
    ),
    (
        "services",
        "remove-service",
        {"service": "pension.amount/1"},
        ("service.delete", "pension.amount/1"),
    ),
    (
        "employers",
        "add-employer",
        {"company_id": NEW_EMPLOYER, "name": "Bakery Demoville", "noss": "123", "active": "on"},
        ("employer.create", NEW_EMPLOYER),
    ),
    (
        "mandates",
        "add-mandate",
        {"office": OFFICE, "employer": NEW_EMPLOYER, "valid_from": "2026-01-01"},
        ("mandate.put", f"{OFFICE}>{NEW_EMPLOYER}"),
    ),
    (
        "operators",
        "add-operator",
        {"operator_id": "person:olga", "roles": "read-only, auditor", "active": "on"},
        ("operator.create", "person:olga"),
    ),
    (
        "operators",
        "remove-operator",
        {"operator_id": "person:olga"},
        ("operator.delete", "person:olga"),
    ),
]
PATHS = {form_id: FORM_BY_ID[form_id].action for _, form_id, _, _ in ACTIONS}
MANAGED = {"add-operator", "remove-operator"}
SERVICE = ACTIONS[3][2]
# A value each form refuses: (form id, what is typed, the field the error stands beside).
BAD_INPUT = [
    ("add-capacity", {"code": "", "name": "Nameless"}, "code"),
    ("add-capacity", {"code": "LONG", "name": "Long", "name_fr": "x" * 201}, "name_fr"),
    ("add-service", {**SERVICE, "provider": ""}, "provider"),  # neither source nor capacity
    ("add-service", {**SERVICE, "request_schema": "{"}, "request_schema"),
    # A schema read one way here, another way by whoever else reads it (RFC 7493 I-JSON).
    (
        "add-service",
        {**SERVICE, "request_schema": '{"type": "string", "type": "object"}'},
        "request_schema",
    ),
    ("add-service", {**SERVICE, "response_fields": " , "}, "response_fields"),
    ("add-routed-provider", {"service": "person.identity", "institution": FUND}, "service"),
    (
        "add-routed-provider",
        {"service": "health.affiliation", "institution": WELFARE},
        "institution",
    ),
    ("add-operator", {"operator_id": "olga", "roles": "read-only"}, "operator_id"),
    ("add-operator", {"operator_id": "person:olga", "roles": "king"}, "roles"),
    ("add-operator", {"operator_id": "person:olga", "roles": "admin", "jwks": "{"}, "jwks"),
    ("add-employer", {"company_id": "12", "name": "Too short"}, "company_id"),
    ("add-employer", {"company_id": NEW_EMPLOYER, "name": "X", "noss": "abc"}, "noss"),
    (
        "add-mandate",
        {"office": OFFICE, "employer": NEW_EMPLOYER, "valid_from": "2026-01-01"},
        "employer",  # not in the employers' register
    ),
    (
        "add-mandate",
        {"office": OFFICE, "employer": country.BY_KEY["welfare"].number, "valid_from": "1 May"},
        "valid_from",
    ),
]


async def test_each_form_changes_what_the_api_changes_audited_with_the_operator(operators_demo):
    demo = operators_demo
    await register(demo, "person:ada", "admin")
    ada, csrf = await signed_in(demo, "ada")
    for page, form_id, typed, (action, target) in ACTIONS:
        shown = await ada.get(f"/operator/{page}?lang=en")
        assert shown.status_code == 200 and f'id="{form_id}"' in shown.text, form_id
        done = await ada.post(PATHS[form_id], data={**typed, "csrf": csrf})
        assert done.status_code == 303, (form_id, done.text[-2000:])
        assert done.headers["location"] == f"/operator/{page}"
        after = await ada.get(done.headers["location"] + "?lang=en")
        assert 'id="done"' in after.text, form_id
        ours = [r for r in await records(demo) if r.action == action]
        assert ours and ours[-1].actor == "person:ada", form_id
        assert ours[-1].target == target, (form_id, ours[-1].target)
    queries = demo.hub.registry_queries
    assert {c.code for c in await queries.capacities()} >= {"PENSIONER"}
    assert "SHORT_LIVED" not in {c.code for c in await queries.capacities()}
    assert [s.code for s in await queries.services() if s.code.startswith("pension.")] == [
        "pension.fund"
    ]
    assert await queries.routed_providers("pension.fund") == []
    employer = await demo.hub.declaration_queries.employer(NEW_EMPLOYER)
    assert (employer.name, employer.noss, employer.active) == ("Bakery Demoville", "123", True)
    [mandate] = await demo.hub.declaration_queries.mandates(OFFICE, NEW_EMPLOYER)
    assert mandate.valid_from.isoformat() == "2026-01-01" and mandate.valid_to is None
    assert "person:olga" not in {o.id for o in await demo.hub.operators.list()}
    listed = await ada.get("/operator/mandates?lang=en")
    assert NEW_EMPLOYER in listed.text and "Demopay payroll office" in listed.text
    await ada.aclose()


async def test_an_editor_may_not_manage_operators_and_an_auditor_may_change_nothing(
    operators_demo,
):
    demo = operators_demo
    await register(demo, "person:erin", "registry-editor")
    await register(demo, "person:audrey", "auditor")
    for subject in ("erin", "audrey"):
        browser, csrf = await signed_in(demo, subject)
        for page, form_id, typed, _ in ACTIONS:
            allowed = subject == "erin" and form_id not in MANAGED
            shown = await browser.get(f"/operator/{page}?lang=en")
            assert shown.status_code == 200, (page, shown.text)
            assert (f'id="{form_id}"' in shown.text) == allowed, (subject, form_id)
            if allowed:
                continue
            refused = await browser.post(PATHS[form_id], data={**typed, "csrf": csrf})
            assert refused.status_code == 403, (subject, form_id, refused.text)
            assert refused.headers["x-road-error"] == "role_required"
            assert "<html" in refused.text
        await browser.aclose()
    assert "person:olga" not in {o.id for o in await demo.hub.operators.list()}
    assert "PENSIONER" not in {c.code for c in await demo.hub.registry_queries.capacities()}


async def test_a_form_without_the_sessions_csrf_token_is_refused(operators_demo):
    demo = operators_demo
    await register(demo, "person:ada", "admin")
    ada, _ = await signed_in(demo, "ada")
    for _, form_id, typed, _ in ACTIONS:
        for token in ({}, {"csrf": "forged"}):
            refused = await ada.post(PATHS[form_id], data={**typed, **token})
            assert refused.status_code == 403, (form_id, refused.text)
            assert refused.headers["x-road-error"] == "csrf_failed"
    anonymous = await demo.http.post(PATHS["add-capacity"], data=ACTIONS[0][2])
    assert anonymous.status_code == 401 and anonymous.headers["x-road-error"] == "unauthenticated"
    assert "PENSIONER" not in {c.code for c in await demo.hub.registry_queries.capacities()}
    await ada.aclose()


async def test_bad_input_comes_back_as_the_form_with_the_error_beside_its_field(operators_demo):
    demo = operators_demo
    await register(demo, "person:ada", "admin")
    ada, csrf = await signed_in(demo, "ada")
    for form_id, typed, field in BAD_INPUT:
        page = await ada.post(f"{FORM_BY_ID[form_id].action}?lang=de", data={**typed, "csrf": csrf})
        assert 400 <= page.status_code < 500, (form_id, page.status_code, page.text[-2000:])
        assert page.headers["content-language"] == "de"
        # The form names its refusal as any answer does (an outside review found none).
        assert page.headers["x-road-error"], (form_id, page.headers)
        error = re.search(
            rf'<p class="field-error" id="{form_id}-{field}-error">(.*?)</p>', page.text, re.S
        )
        assert error, (form_id, field, page.text[-3000:])
        assert 'aria-invalid="true"' in page.text
    german = await ada.post("/operator/capacities?lang=de", data={**BAD_INPUT[0][1], "csrf": csrf})
    assert "Füllen Sie dieses Feld aus." in german.text
    assert "Nameless" in german.text  # what was typed is typed still
    await ada.aclose()


async def test_the_forms_take_the_registrys_texts_in_dutch_french_and_german(operators_demo):
    demo = operators_demo
    await register(demo, "person:ada", "admin")
    ada, csrf = await signed_in(demo, "ada")
    shown = await ada.get("/operator/services?lang=nl")
    assert "Naam in het Frans" in shown.text and "Beschrijving in het Duits" in shown.text
    posts = [
        ("capacities", {"code": "PENSIONER", "name": "Pensioner", "name_nl": "Gepensioneerde"}),
        (
            "services",
            {
                **SERVICE,
                "description": "The amount",
                "name_fr": "Montant de la pension",
                "description_de": "Der Betrag",
            },
        ),
        (
            "mutation-types",
            {
                "code": "pension.start",
                "version": "1",
                "name": "A pension starts",
                "name_de": "Eine Rente beginnt",
                "publisher": WELFARE,
                "fields": "since",
                "schema": '{"type": "object"}',
            },
        ),
        (
            "authorizations",
            {
                "reference": "ISC/26/900",
                "consumer": FUND,
                "service": "pension.amount",
                "purpose": "CARE",
                "legal_basis": "Law on pensions",
                "legal_basis_nl": "Pensioenwet",
                "legal_basis_fr": "Loi sur les pensions",
                "allowed_fields": "amount",
                "required_capacities": "PENSIONER",
                "valid_from": "2026-01-01",
            },
        ),
        (
            "integration-rights",
            {
                "institution": FUND,
                "capacity": "PENSIONER",
                "legal_basis": "Law on pensions",
                "legal_basis_de": "Rentengesetz",
            },
        ),
    ]
    for page, typed in posts:
        done = await ada.post(f"/operator/{page}", data={**typed, "csrf": csrf})
        assert done.status_code == 303, (page, done.text[-2000:])
    queries = demo.hub.registry_queries
    capacity = next(c for c in await queries.capacities() if c.code == "PENSIONER")
    assert capacity.name_translations == {"nl": "Gepensioneerde"}
    service = await queries.service("pension.amount", "1")
    assert service.name_translations == {"fr": "Montant de la pension"}
    assert service.description_translations == {"de": "Der Betrag"}
    change = await queries.mutation_type("pension.start", "1")
    assert change.name_translations == {"de": "Eine Rente beginnt"}
    authorization = await queries.authorization("ISC/26/900")
    assert authorization.legal_basis_translations == {
        "nl": "Pensioenwet",
        "fr": "Loi sur les pensions",
    }
    right = await queries.integration_right(FUND, "PENSIONER")
    assert right.legal_basis_translations == {"de": "Rentengesetz"}
    # The integration rights' table reads in the operator's language, the default marked English.
    german = await ada.get("/operator/integration-rights?lang=de")
    assert "<td>Rentengesetz</td>" in german.text and "Law on pensions" not in german.text
    dutch = await ada.get("/operator/integration-rights?lang=nl")
    assert "Rechtsgrond in het Duits" in dutch.text
    assert '<span lang="en">Law on pensions</span>' in dutch.text
    assert "Wet van 26 mei 2002 betreffende het recht op maatschappelijke integratie" in dutch.text
    # So do the other registry tables: each text the reader's way, else the default marked.
    for page, typed_here, elsewhere in (
        ("capacities?lang=nl", "Gepensioneerde", None),
        ("services?lang=fr", "Montant de la pension", None),
        ("mutation-types?lang=de", "Eine Rente beginnt", None),
        ("authorizations?lang=fr", "Loi sur les pensions", None),
        ("authorizations?lang=de", None, "Law on pensions"),
    ):
        table = await ada.get(f"/operator/{page}")
        assert table.status_code == 200, page
        if typed_here:
            assert f"<td>{typed_here}</td>" in table.text, page
        else:
            assert f'<span lang="en">{elsewhere}</span>' in table.text, page
    too_long = await ada.post(
        "/operator/integration-rights",
        data={**posts[-1][1], "legal_basis_nl": "x" * 501, "csrf": csrf},
    )
    assert too_long.status_code == 400, too_long.text[-2000:]
    assert 'id="add-integration-right-legal_basis_nl-error"' in too_long.text
    await ada.aclose()


async def test_the_employers_register_comes_a_page_at_a_time(operators_demo):
    demo = operators_demo
    await register(demo, "person:rita", "read-only")
    for n in range(PAGE + 5):
        await demo.hub.declarations.put_employer(
            country.enterprise_number(3_100_000 + n), None, f"Employer {n}", True
        )
    rita, _ = await signed_in(demo, "rita")
    first = await rita.get("/operator/employers?lang=en")
    assert first.status_code == 200
    assert first.text.count("<tr>") == PAGE + 1  # the header's row and a page of employers
    after = re.search(r'id="next-page" href="\?after=(\d+)"', first.text).group(1)
    second = await rita.get(f"/operator/employers?after={after}&lang=en")
    numbers = re.findall(r"<td><code>(\d{10})</code></td>", second.text)
    assert numbers and all(n > after for n in numbers)
    assert 'id="next-page"' not in second.text
    refused = await rita.get(f"/operator/employers?after={'9' * 11}")
    assert refused.status_code == 400 and refused.headers["x-road-error"] == "malformed_request"
    await rita.aclose()
