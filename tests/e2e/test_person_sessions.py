"""An operator ends one person's browser sessions (docs/security.md, "Browser sessions";
docs/operations.md, "Ending a person's sessions"): through DELETE /admin/sessions (with `manage`,
audited with the actor) and `crossroads sessions end` (audited as cli:USER), every session of that
person, of one audience or of each, is refused at its next request while other people's go on;
and an operator removed or made inactive through /admin/operators is signed out at once. On
both stores."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from typer.testing import CliRunner

from crossroads.demo import personas
from crossroads.domain.audit import AuditRecord
from crossroads.entrypoints.cli import app as cli

from ..conftest import start_demo_hub
from .portal_browsing import browser, sign_in

pytestmark = pytest.mark.anyio
ADMIN = {"Authorization": "Bearer operator-secret-for-tests"}
PORTAL_PAGE = "/portal/institution/persons"
CITIZEN_PAGE = "/v1/citizen/consultations"


@pytest.fixture
async def demo(tmp_path, store_url):
    hub = await start_demo_hub(tmp_path, store_url, persons=20, demo=True)
    yield hub
    await hub.http.aclose()
    await hub.hub.close()


def persona(key: str) -> personas.Persona:
    return next(p for p in personas.personas([]) if p.key == key)


async def sign_in_as(client: httpx.AsyncClient, login: str, subject: str) -> None:
    """Sign in at the development identity provider as `subject`, a person none of its personas
    is."""
    to_idp = await client.get(login)
    authorize = urlparse(to_idp.headers["location"])
    params = {k: v[0] for k, v in parse_qs(authorize.query).items()}
    back = await client.post(authorize.path, data={**params, "subject": subject})
    assert back.status_code == 303, back.text
    callback = urlparse(back.headers["location"])
    assert (await client.get(f"{callback.path}?{callback.query}")).status_code == 303


async def audited(demo, action: str) -> list[AuditRecord]:
    records = [AuditRecord.from_canonical(e) for _, e in await demo.hub.store.audit.read(0, 10**6)]
    return [r for r in records if r.action == action]


async def end(demo, subject: str, audience: str | None = None, headers=ADMIN) -> httpx.Response:
    query = {"subject": subject, **({"audience": audience} if audience else {})}
    return await demo.http.delete("/admin/sessions", params=query, headers=headers)


async def test_ending_a_portal_users_sessions_signs_out_each_of_their_browsers_only(demo):
    """An employer's representative whose role was withdrawn at the identity provider: every
    portal session of theirs ends (in each browser, whatever it acts for), nobody else's."""
    subject = persona("employer").subject
    async with (
        browser(demo) as office,
        browser(demo) as home,
        browser(demo) as institution,
        browser(demo) as citizen,
    ):
        await sign_in(office, "/portal/login", "employer")
        await sign_in(home, "/portal/login", "employer")
        await sign_in(institution, "/portal/login", "institution-manager")  # the same person
        # Another person's portal session (the demo's personas are all one person).
        other = {**persona("employer").claims, "person": demo.hub.hasher.hex("another-person")}
        kept = await demo.hub.sessions.open("portal", other, other["person"])
        await sign_in(citizen, "/citizen/login", "citizen-1")
        assert (await institution.get(PORTAL_PAGE)).status_code == 200
        counted = await demo.http.get("/admin/sessions", params={"subject": subject}, headers=ADMIN)
        assert counted.json()["sessions"]["portal"] == 3, counted.text

        ended = await end(demo, subject, "portal")
        assert ended.status_code == 200, ended.text
        assert ended.json() == {"sessions": {"portal": 3}, "total": 3}
        for browser_of_theirs in (office, home):
            page = await browser_of_theirs.get("/portal/employer/")
            assert page.status_code == 401 and page.headers["x-road-error"] == "unauthenticated"
        assert (await institution.get(PORTAL_PAGE)).status_code == 401
        assert await demo.hub.sessions.holds(kept, "portal", other)
        assert (await citizen.get(CITIZEN_PAGE)).status_code == 200

        assert (await end(demo, subject, "portal")).json()["total"] == 0
    record = (await audited(demo, "session.end"))[0]
    assert record.actor, record
    assert record.detail == {"audience": "portal", "ended": 3}
    assert record.subject_hash == demo.hub.hasher.hex(subject)
    assert subject not in record.canonical().decode()  # a national number is never audited


async def test_ending_a_citizens_sessions_by_their_national_number(demo):
    """A citizen whose device was stolen: named by their national number, with no audience, every
    session of theirs ends (a subject that is a national number names a citizen too)."""
    number = demo.hub.scheme.person_from_claim(
        next(p for p in personas.personas([]) if p.key == "employer").subject
    )
    async with browser(demo) as stolen, browser(demo) as other:
        await sign_in_as(stolen, "/citizen/login", number)
        await sign_in(other, "/citizen/login", "citizen-1")
        assert (await stolen.get(CITIZEN_PAGE)).status_code == 200
        ended = await end(demo, number)
        assert ended.status_code == 200, ended.text
        assert ended.json()["sessions"] == {"citizen": 1, "portal": 0, "operator": 0}
        refused = await stolen.get(CITIZEN_PAGE)
        assert refused.status_code == 401 and refused.headers["x-road-error"] == "unauthenticated"
        assert (await other.get(CITIZEN_PAGE)).status_code == 200
    bad = await end(demo, "not-a-number", "citizen")
    assert bad.status_code == 400 and bad.headers["x-road-error"] == "malformed_request"
    unhashable = await end(demo, "\x80é")
    assert (
        unhashable.status_code == 400 and unhashable.headers["x-road-error"] == "malformed_request"
    )
    unknown = await end(demo, number, "visitor")
    assert unknown.status_code == 400 and unknown.headers["x-road-error"] == "malformed_request"


async def test_ending_sessions_takes_the_manage_permission(demo):
    put = await demo.http.put(
        "/admin/operators/person:reader", json={"roles": ["read-only"]}, headers=ADMIN
    )
    assert put.status_code == 201, put.text
    async with browser(demo) as reader:
        await sign_in_as(reader, "/operator/login", "reader")
        csrf = (await reader.get("/operator/session")).json()["csrf_token"]
        # Whether a person is signed in is not for every reader to learn either.
        counted = await reader.get("/admin/sessions", params={"subject": "someone"})
        assert counted.status_code == 403 and counted.headers["x-road-error"] == "role_required"
        refused = await reader.delete(
            "/admin/sessions", params={"subject": "someone"}, headers={"X-CSRF-Token": csrf}
        )
        assert refused.status_code == 403 and refused.headers["x-road-error"] == "role_required"


@pytest.mark.parametrize("change", ["delete", "disable"])
async def test_an_operator_removed_or_disabled_is_signed_out_at_once(demo, change):
    put = await demo.http.put(
        "/admin/operators/person:olga", json={"roles": ["admin"]}, headers=ADMIN
    )
    assert put.status_code == 201, put.text
    async with browser(demo) as olga, browser(demo) as demo_operator:
        await sign_in_as(olga, "/operator/login", "olga")
        await sign_in(demo_operator, "/operator/login", "operator")
        assert (await olga.get("/operator/session")).status_code == 200
        if change == "delete":
            answer = await demo.http.delete("/admin/operators/person:olga", headers=ADMIN)
            assert answer.status_code == 204, answer.text
        else:
            answer = await demo.http.put(
                "/admin/operators/person:olga",
                json={"roles": ["admin"], "active": False},
                headers=ADMIN,
            )
            assert answer.status_code == 200, answer.text
        refused = await olga.get("/operator/session")
        assert refused.status_code == 401 and refused.headers["x-road-error"] == "unauthenticated"
        assert (await demo_operator.get("/operator/session")).status_code == 200
    action = "operator.delete" if change == "delete" else "operator.update"
    [record] = [r for r in await audited(demo, action) if r.target == "person:olga"]
    assert record.detail["sessions_ended"] == 1


def command(demo, *args: str):
    """`crossroads ARGS` on the demo's store, as an operator runs it beside the hub (in a thread:
    the command runs its own event loop)."""
    settings = demo.settings
    env = {
        "CROSSROADS_DATA_DIR": str(settings.data_dir),
        "CROSSROADS_STORE_URL": settings.store_url,
        "CROSSROADS_SUBJECT_HASH_SECRET": "s" * 32,  # the demo's (tests/conftest.py)
        "CROSSROADS_DECLARATIONS_SOURCE": settings.declarations_source,
        "CROSSROADS_OWN_ACCESS_INSTITUTION": settings.own_access_institution,
    }
    return asyncio.to_thread(CliRunner().invoke, cli, list(args), env=env)


async def test_the_command_ends_a_persons_sessions_audited_as_the_system_user(demo):
    subject = persona("payroll-office").subject
    async with browser(demo) as clerk:
        await sign_in(clerk, "/portal/login", "payroll-office")
        assert (await clerk.get("/portal/employer/")).status_code == 200
        listed = await command(demo, "sessions", "list", "--subject", subject)
        assert listed.exit_code == 0, listed.output
        assert "portal\t1" in listed.output
        ended = await command(demo, "sessions", "end", "--subject", subject, "--audience", "portal")
        assert ended.exit_code == 0, ended.output
        assert "1 session(s) ended: portal 1" in ended.output
        assert (await clerk.get("/portal/employer/")).status_code == 401
    [record] = await audited(demo, "session.end")
    assert record.actor.startswith("cli:") and record.detail == {"audience": "portal", "ended": 1}


def written_with_separators(number: str) -> str:
    return f"{number[:2]}.{number[2:4]}.{number[4:6]}-{number[6:9]}.{number[9:]}"


async def test_a_national_number_is_never_audited_in_clear_and_is_found_however_written(demo):
    """Named by a national number with separators and no audience: the portal sessions of a
    `sub` that is that number end too, and no record (the operators' audience's included)
    carries the number, as written or not; counting is audited as well."""
    number = demo.hub.scheme.person_from_claim(persona("employer").subject)
    written = written_with_separators(number)
    async with browser(demo) as office, browser(demo) as phone:
        await sign_in(office, "/portal/login", "employer")
        await sign_in_as(phone, "/citizen/login", number)
        counted = await demo.http.get("/admin/sessions", params={"subject": written}, headers=ADMIN)
        assert counted.json()["sessions"] == {"citizen": 1, "portal": 1, "operator": 0}
        ended = await end(demo, written)
        assert ended.json()["sessions"] == {"citizen": 1, "portal": 1, "operator": 0}
        assert (await office.get("/portal/employer/")).status_code == 401
        assert (await phone.get(CITIZEN_PAGE)).status_code == 401
    records = await audited(demo, "session.count") + await audited(demo, "session.end")
    assert len(records) == 6 and all(r.actor == "admin-token" for r in records)
    for record in records:
        text = record.canonical().decode()
        assert number not in text and written not in text, text
        assert record.subject_hash == demo.hub.hasher.hex(number)


async def test_a_subject_is_taken_as_written_spaces_at_its_ends_included(demo):
    """An identity provider's `sub` may begin or end with a space, and is hashed so at sign-in."""
    identity = {**persona("employer").claims, "person": demo.hub.hasher.hex("alice ")}
    held = await demo.hub.sessions.open("portal", identity, identity["person"])
    assert (await end(demo, "alice", "portal")).json()["total"] == 0
    assert (await end(demo, "alice ", "portal")).json()["total"] == 1
    assert not await demo.hub.sessions.holds(held, "portal", identity)
    blank = await end(demo, "   ", "portal")
    assert blank.status_code == 400 and blank.headers["x-road-error"] == "malformed_request"
