"""An institution's staff on the portal: a manager looks up, integrates and ends persons within
the institution's integration rights (the directory service decides and audits), a viewer only
reads, and each sees their institution's subscriptions, mailboxes, activity and authorizations,
never another institution's."""

from __future__ import annotations

import pytest

from crossroads.demo import country
from crossroads.domain.audit import AuditRecord

from ..conftest import start_demo_hub
from .portal_browsing import SAME_ORIGIN, browser, csrf_of, sign_in

pytestmark = pytest.mark.anyio
WELFARE = country.BY_KEY["welfare"].number


@pytest.fixture
async def portal_demo(tmp_path):
    demo = await start_demo_hub(tmp_path, persons=20, demo=True)
    yield demo
    await demo.http.aclose()
    await demo.hub.close()


def stranger(demo) -> str:
    """A person of the demo country the welfare centre does not hold."""
    held = {
        line["subject"]
        for line in country.directory_lines(country.persons(20))
        if line["institution"] == WELFARE
    }
    return next(s for s in country.persons(20) if s not in held)


async def post(client, form: dict):
    page = await client.get("/portal/institution/persons")
    return await client.post(
        "/portal/institution/persons",
        data={"csrf": csrf_of(page.text), **form},
        headers=SAME_ORIGIN,
    )


async def test_a_manager_integrates_and_ends_a_person_within_the_integration_rights(portal_demo):
    person = stranger(portal_demo)
    async with browser(portal_demo) as client:
        await sign_in(client, "/portal/login", "institution-manager")
        found = await post(client, {"action": "search", "subject": person})
        assert found.status_code == 200, found.text
        assert 'id="nothing"' in found.text and 'id="integrate"' in found.text
        done = await post(
            client,
            {
                "action": "integrate",
                "subject": person,
                "capacity": "SOCIAL_ASSISTANCE",
                "phase": "definitive",
                "start": "2026-01-01",
            },
        )
        assert done.status_code == 200, done.text
        assert 'id="done"' in done.text and "SOCIAL_ASSISTANCE" in done.text
        ended = await post(
            client,
            {
                "action": "end",
                "subject": person,
                "capacity": "SOCIAL_ASSISTANCE",
                "end": "2026-06-30",
            },
        )
        assert ended.status_code == 200, ended.text
        assert "2026" in ended.text and 'id="entries"' in ended.text
        # A capacity the welfare centre has no integration right for is refused, and audited.
        refused = await post(
            client,
            {
                "action": "integrate",
                "subject": person,
                "capacity": "JOB_SEEKER",
                "start": "2026-01-01",
            },
        )
        assert refused.headers["x-road-error"] == "no_integration_right", refused.text
        assert "<html" in refused.text
    records = [
        AuditRecord.from_canonical(raw)
        for _, raw in await portal_demo.hub.store.audit.read(0, 100000)
    ]
    changes = [r for r in records if r.kind == "directory" and r.consumer == WELFARE]
    assert [r.action for r in changes[-3:]] == [
        "directory.integrate",
        "directory.end",
        "directory.change",
    ]
    assert all(r.actor and r.actor.startswith("portal:") for r in changes[-3:])


async def test_a_viewer_reads_but_cannot_change_the_directory(portal_demo):
    person = stranger(portal_demo)
    async with browser(portal_demo) as client:
        await sign_in(client, "/portal/login", "institution-viewer")
        found = await post(client, {"action": "search", "subject": person})
        assert found.status_code == 200 and 'id="integrate"' not in found.text
        refused = await post(
            client,
            {"action": "integrate", "subject": person, "capacity": "SOCIAL_ASSISTANCE"},
        )
        assert refused.status_code == 403, refused.text
        assert refused.headers["x-road-error"] == "forbidden"


async def test_the_staff_see_their_own_subscriptions_activity_and_authorizations(portal_demo):
    async with browser(portal_demo) as client:
        await sign_in(client, "/portal/login", "institution-viewer")
        overview = await client.get("/portal/institution/?lang=de")
        assert overview.status_code == 200, overview.text
        assert "Beantwortete Austausche pro Tag" in overview.text
        subscriptions = await client.get("/portal/institution/subscriptions?lang=en")
        assert subscriptions.status_code == 200 and "case-app" in subscriptions.text
        rights = await client.get("/portal/institution/authorizations?lang=fr")
        assert rights.status_code == 200 and 'id="authorizations"' in rights.text
        assert 'id="rights"' in rights.text
        # The legal bases in the reader's language (the demo registry has them in French),
        # the authorizations' and, below them, the integration rights'.
        table = rights.text.split('id="authorizations"')[1].split('id="rights"')[0]
        assert "Loi du 26 mai 2002 concernant le droit" in table
        assert "Law of 26 May 2002" not in table
        granted = rights.text.split('id="rights"')[1]
        assert "Loi du 26 mai 2002 concernant le droit à l&#39;intégration sociale" in granted
        assert "Law of 26 May 2002" not in granted
        dutch = await client.get("/portal/institution/authorizations?lang=nl")
        granted = dutch.text.split('id="rights"')[1]
        assert (
            "<td>Wet van 26 mei 2002 betreffende het recht op maatschappelijke integratie</td>"
            in granted
        )
        assert "Law of 26 May 2002" not in granted
        # Only the welfare centre's own: no other member's authorization is listed.
        others = {
            a.reference
            for a in await portal_demo.hub.registry_queries.authorizations()
            if a.consumer != WELFARE
        }
        assert not any(f">{reference}<" in rights.text for reference in others)


async def test_an_employer_or_a_visitor_does_not_reach_the_institution_pages(portal_demo):
    async with browser(portal_demo) as client:
        invited = await client.get("/portal/institution/?lang=en")
        assert invited.status_code == 200 and 'href="/portal/signin"' in invited.text
        anonymous = await client.get("/portal/institution/persons?lang=en")
        assert anonymous.status_code == 401 and "<html" in anonymous.text
        await sign_in(client, "/portal/login", "employer")
        employer = await client.get("/portal/institution/?lang=en")
        assert employer.status_code == 403 and "<html" in employer.text


async def test_a_mutation_read_from_the_mailbox_counts_in_the_institutions_delivery_delays(
    portal_demo,
):
    demo = portal_demo
    me = demo.held_by("welfare")[0]
    publisher = f"{country.BY_KEY['nr'].number}:register-app"
    moved = await demo.http.post(
        "/v1/mutations/person.address-change",
        headers={"Authorization": f"Bearer {await demo.token(publisher)}"},
        json={
            "id": "move-1",
            "subject": me,
            "effective_date": "2026-01-05",
            "payload": {"street": "Rue Haute 1", "postcode": "5000", "city": "Namur"},
        },
    )
    assert moved.status_code == 201, moved.text
    token = await demo.token(demo.welfare)
    box = (await demo.http.get("/v1/mailbox", headers={"Authorization": f"Bearer {token}"})).json()
    seqs = [m["seq"] for m in box["messages"] if m["event"]["id"] == "move-1"]
    acked = await demo.http.post(
        "/v1/mailbox/ack", headers={"Authorization": f"Bearer {token}"}, json={"seqs": seqs}
    )
    assert seqs and acked.status_code == 200, acked.text
    async with browser(demo) as client:
        await sign_in(client, "/portal/login", "institution-viewer")
        overview = await client.get("/portal/institution/?lang=en")
    # The delays chart has bars now: its table lists the buckets, one of them counted.
    delays = overview.text.split('id="chart-delays"', 1)[1]
    assert "<svg" in delays.split("</section>", 1)[0]
    assert "Nothing to show" not in delays.split("</section>", 1)[0]
