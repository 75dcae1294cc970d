"""Employers and payroll offices on the portal: DIMONA IN/OUT/update/cancel as web forms, checked
on the server field by field, declared through the declarations service (its mandates and
glossary anomalies), the history of every declaration and the mandates given and received."""

from __future__ import annotations

import re
from datetime import date, timedelta

import orjson
import pytest

from crossroads.demo import country, employers
from crossroads.demo.dmfa_file import WorkerLineSpec, dmfa_xml
from crossroads.domain.callers import Caller

from ..conftest import start_demo_hub
from .portal_browsing import SAME_ORIGIN, browser, csrf_of, sign_in

pytestmark = pytest.mark.anyio
EMPLOYER = employers.EMPLOYERS[0][0]
OTHER_EMPLOYER = employers.EMPLOYERS[1][0]
PAYROLL = country.BY_KEY["payroll"].number
WORKER = country.persons(40)[-1]


def in_form(today) -> dict[str, str]:
    """The fields of a DIMONA IN form for EMPLOYER's WORKER starting `today`."""
    return {
        "employer": EMPLOYER,
        "inss": WORKER,
        "start": today.isoformat(),
        "worker_type": "OTH",
        "joint_committee": "XXX",
    }


@pytest.fixture
async def portal_demo(tmp_path):
    demo = await start_demo_hub(tmp_path, persons=20, demo=True)
    yield demo
    await demo.http.aclose()
    await demo.hub.close()


async def post_form(client, path: str, fields: dict):
    token = csrf_of((await client.get(path)).text)
    return await client.post(path, data={**fields, "csrf": token}, headers=SAME_ORIGIN)


async def test_an_employer_declares_in_and_out_and_sees_each_in_its_history(portal_demo):
    today = date.today()
    async with browser(portal_demo) as client:
        await sign_in(client, "/portal/login", "employer")
        overview = await client.get("/portal/employer/?lang=en")
        assert overview.status_code == 200 and "Demo Employer 1" in overview.text
        # The mandate it gave the payroll office, which it names.
        assert f"{country.BY_KEY['payroll'].name} ({PAYROLL})" in overview.text
        form = await client.get("/portal/employer/dimona/in?lang=en")
        assert f'<option value="{EMPLOYER}" selected>' in form.text
        assert OTHER_EMPLOYER not in form.text  # an employer declares for itself only
        fields = in_form(today)
        wrong = await post_form(
            client,
            "/portal/employer/dimona/in?lang=en",
            {**fields, "inss": "12345678901", "start": "1 december"},
        )
        assert wrong.status_code == 422
        assert 'id="inss-error"' in wrong.text and "not a valid national number" in wrong.text
        assert 'id="start-error"' in wrong.text and 'aria-invalid="true"' in wrong.text
        declared = await post_form(client, "/portal/employer/dimona/in?lang=en", fields)
        assert declared.status_code == 303, declared.text
        page = await client.get(declared.headers["location"])
        assert "accepted" in page.text
        period_id = re.search(r'id="period-id">(\d+)<', page.text)[1]
        ended = await post_form(
            client,
            "/portal/employer/dimona/out",
            {"employer": EMPLOYER, "period_id": period_id, "end": today.isoformat()},
        )
        assert ended.status_code == 303, ended.text
        history = await client.get("/portal/employer/declarations?lang=en")
        assert history.text.count("<tr>") >= 3  # the header, the IN and the OUT
        assert "DimonaIn" in history.text and "DimonaOut" in history.text


async def test_a_refused_form_shows_the_glossary_anomaly_beside_its_field_in_the_language(
    portal_demo,
):
    async with browser(portal_demo) as client:
        await sign_in(client, "/portal/login", "employer")
        refused = await post_form(
            client,
            "/portal/employer/dimona/cancel?lang=fr",
            {"employer": EMPLOYER, "period_id": "999999999"},
        )
        assert refused.status_code == 422
        assert 'id="period_id-error"' in refused.text
        assert "00913-" in refused.text and "/portal/anomaly?code=00913-" in refused.text
        assert 'lang="fr"' in refused.text


async def test_a_payroll_office_declares_only_for_the_employers_that_gave_it_a_mandate(
    portal_demo,
):
    async with browser(portal_demo) as client:
        await sign_in(client, "/portal/login", "payroll-office")
        form = await client.get("/portal/employer/dimona/in")
        assert EMPLOYER in form.text and OTHER_EMPLOYER in form.text
        overview = await client.get("/portal/employer/?lang=en")
        assert "Mandates your office received" in overview.text
        assert f"Demo Employer 1 ({EMPLOYER})" in overview.text.split("Mandates your office")[1]
        stranger = country.enterprise_number(4_999_999)
        refused = await post_form(
            client,
            "/portal/employer/dimona/in?lang=en",
            {
                "employer": stranger,
                "inss": WORKER,
                "start": (date.today() - timedelta(days=1)).isoformat(),
                "worker_type": "OTH",
                "joint_committee": "XXX",
            },
        )
        assert refused.status_code == 422 and 'id="employer-error"' in refused.text
        history = await client.get("/portal/employer/declarations")
        assert "DimonaIn" in history.text  # the demo's seeded declarations, sent by the office


async def test_an_institution_and_a_stranger_see_no_employer_page(portal_demo):
    async with browser(portal_demo) as client:
        assert (await client.get("/portal/employer/")).status_code == 401
        await sign_in(client, "/portal/login", "institution-manager")
        answer = await client.get("/portal/employer/declarations")
        assert answer.status_code == 403 and answer.headers["x-road-error"] == "forbidden"


async def test_a_declaration_of_another_organisation_is_not_shown(portal_demo):
    """The office's declaration for another employer is neither listed to nor opened by the
    employer: it is neither the employer's own nor made for it."""
    sent = await portal_demo.hub.store.declarations.declarations_of(PAYROLL, None, 50)
    other = next(d for d in sent if d.employer != EMPLOYER)
    async with browser(portal_demo) as client:
        await sign_in(client, "/portal/login", "employer")
        answer = await client.get(f"/portal/employer/declarations/{other.id}")
        assert answer.status_code == 404
        history = await client.get("/portal/employer/declarations")
        assert f'href="/portal/employer/declarations/{other.id}"' not in history.text


async def test_an_employer_finds_every_declaration_made_for_it_and_who_sent_it(portal_demo):
    """The employer's history holds what the payroll offices declared for it, the office named,
    with its status and anomalies, even once the office's mandate has ended; each opens. An
    office never sees another office's declaration for the same employer."""
    hub, today = portal_demo.hub, portal_demo.hub.clock.today()
    fields = in_form(today)
    async with browser(portal_demo) as client:
        await sign_in(client, "/portal/login", "payroll-office")
        declared = await post_form(client, "/portal/employer/dimona/in?lang=en", fields)
        assert declared.status_code == 303, declared.text
        by_payroll = re.search(r"/declarations/(\d+)", declared.headers["location"])[1]
    other_office = country.enterprise_number(3_000_001)
    await hub.declarations.put_mandate(other_office, EMPLOYER, date(2024, 1, 1), None)
    # The same worker again: refused (an overlapping period), with its anomaly.
    by_other = await hub.declarations.submit_dimona(
        Caller(other_office, "payroll-app"),
        employers.dimona_in(WORKER, EMPLOYER, today, "OTH"),
        "en",
    )
    assert by_other.status == "B" and by_other.anomalies
    await hub.declarations.put_mandate(
        other_office, EMPLOYER, date(2024, 1, 1), today - timedelta(days=1)
    )
    async with browser(portal_demo) as client:
        await sign_in(client, "/portal/login", "employer")
        history = await client.get("/portal/employer/declarations?lang=en")
        assert history.status_code == 200
        assert "no declaration" not in history.text
        rows = dict(
            re.findall(
                r'<tr><td><a href="/portal/employer/declarations/(\d+)">(.*?)</tr>',
                history.text,
                re.S,
            )
        )
        sender = f'{country.BY_KEY["payroll"].name} <span class="muted">({PAYROLL})</span>'
        assert sender in rows[by_payroll]
        assert other_office in rows[str(by_other.id)] and "refused" in rows[str(by_other.id)]
        ids = [int(n) for n in rows]
        assert ids == sorted(ids, reverse=True)
        page = await client.get(f"/portal/employer/declarations/{by_payroll}?lang=en")
        assert page.status_code == 200 and "accepted" in page.text
        assert country.BY_KEY["payroll"].name in page.text.split('id="sender"')[1]
        refused = await client.get(f"/portal/employer/declarations/{by_other.id}?lang=en")
        assert refused.status_code == 200 and by_other.anomalies[0].code in refused.text
    async with browser(portal_demo) as client:
        await sign_in(client, "/portal/login", "payroll-office")
        history = await client.get("/portal/employer/declarations?lang=en")
        assert f'href="/portal/employer/declarations/{by_payroll}"' in history.text
        assert f'href="/portal/employer/declarations/{by_other.id}"' not in history.text
        assert other_office not in history.text
        hidden = await client.get(f"/portal/employer/declarations/{by_other.id}")
        assert hidden.status_code == 404


async def upload(client, kind: str, name: str, content: bytes):
    token = csrf_of((await client.get("/portal/employer/batches")).text)
    return await client.post(
        f"/portal/employer/batches/{kind}",
        data={"csrf": token},
        files={"file": (name, content, "application/octet-stream")},
        headers=SAME_ORIGIN,
    )


async def test_a_batch_file_and_a_dmfa_go_through_the_queue_to_their_acknowledgement(
    portal_demo,
):
    today = date.today()
    forms = [employers.dimona_in(s, EMPLOYER, today, "OTH") for s in country.persons(40)[-3:]]
    async with browser(portal_demo) as client:
        await sign_in(client, "/portal/login", "payroll-office")
        sent = await upload(client, "dimona", "forms.json", orjson.dumps(forms))
        assert sent.status_code == 303, sent.text
        waiting = await client.get(sent.headers["location"] + "?lang=en")
        assert "being processed" in waiting.text and waiting.headers["refresh"] == "2"
        assert await portal_demo.hub.declaration_batches.process_waiting() == 1
        done = await client.get(sent.headers["location"] + "?lang=en")
        assert "refresh" not in done.headers and 'id="acknowledgement"' in done.text
        assert done.text.count("DimonaIn") == 3 and "(A)" in done.text
        dmfa = dmfa_xml(
            20263,
            employers.EMPLOYERS[0][1],
            EMPLOYER,
            [WorkerLineSpec(country.persons(40)[-1])],
            portal_demo.hub.declarations.dmfa_rates,
        )
        quarter = await upload(client, "dmfa", "dmfa.xml", dmfa)
        assert quarter.status_code == 303, quarter.text
        assert await portal_demo.hub.declaration_batches.process_waiting() == 1
        acknowledged = await client.get(quarter.headers["location"] + "?lang=en")
        assert "DmfAOriginal" in acknowledged.text
        listed = await client.get("/portal/employer/batches?lang=en")
        assert listed.text.count('href="/portal/employer/batches/') == 2


async def test_an_upload_without_the_form_token_is_refused(portal_demo):
    async with browser(portal_demo) as client:
        await sign_in(client, "/portal/login", "employer")
        forged = await client.post(
            "/portal/employer/batches/dimona",
            files={"file": ("forms.json", b"[]", "application/json")},
            headers=SAME_ORIGIN,
        )
        assert forged.status_code == 403 and forged.headers["x-road-error"] == "csrf_failed"


class Watched:
    """A request body sent a piece at a time, counting the pieces the hub asked for: a refusal
    that needs no body must come before the first."""

    def __init__(self, *pieces: bytes) -> None:
        self.pieces = pieces
        self.taken = 0

    async def __aiter__(self):
        for piece in self.pieces:
            self.taken += 1
            yield piece


BOUNDARY = "watched-boundary"


def watched_form(token: str, content: bytes) -> Watched:
    """The page's form as a browser sends it (the token, then the file), in three pieces: up to
    the file's content, the content, the end."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{token}\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="forms.json"\r\n'
        "Content-Type: application/json\r\n\r\n"
    )
    return Watched(head.encode(), content, f"\r\n--{BOUNDARY}--\r\n".encode())


async def send_watched(client, kind: str, body: Watched, headers=SAME_ORIGIN):
    return await client.post(
        f"/portal/employer/batches/{kind}",
        content=body,
        headers={**headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
    )


async def test_an_upload_refused_for_what_needs_no_file_is_refused_before_the_file_is_read(
    tmp_path,
):
    """A batch file may be 128 MB, and the form was once read whole (and parsed on the event
    loop) before anything was checked: the kind, the sender's mandates, its quota, the form's
    origin are checked before the body is read, and its token before the file's content."""
    demo = await start_demo_hub(tmp_path, persons=20, demo=True, declaration_batch_quota_files=1)
    forms = orjson.dumps([employers.dimona_in(WORKER, EMPLOYER, date.today(), "OTH")])
    try:
        async with browser(demo) as client:
            await sign_in(client, "/portal/login", "payroll-office")
            token = csrf_of((await client.get("/portal/employer/batches")).text)

            accepted = watched_form(token, forms)
            sent = await send_watched(client, "dimona", accepted)
            assert sent.status_code == 303 and accepted.taken == 3, sent.text

            def refused(answer, code: str) -> bool:
                return answer.headers.get("x-road-error") == code

            over_quota = watched_form(token, forms + b" ")
            answer = await send_watched(client, "dimona", over_quota)
            assert refused(answer, "quota_exceeded") and over_quota.taken == 0
            assert await demo.hub.declaration_batches.process_waiting() == 1

            no_kind = watched_form(token, forms)
            answer = await send_watched(client, "pdf", no_kind)
            assert refused(answer, "not_found") and no_kind.taken == 0

            cross_site = watched_form(token, forms)
            answer = await send_watched(
                client, "dimona", cross_site, {"Sec-Fetch-Site": "cross-site"}
            )
            assert refused(answer, "csrf_failed") and cross_site.taken == 0

            wrong_token = watched_form(token[::-1], forms)
            answer = await send_watched(client, "dimona", wrong_token)
            assert refused(answer, "csrf_failed") and wrong_token.taken == 1  # not the file

            # The office's mandates have all ended: it declares for no one.
            yesterday = date.today() - timedelta(days=1)
            store = demo.hub.store.declarations
            for mandate in await store.list_mandates(PAYROLL, None, None, 100):
                await store.put_mandate(PAYROLL, mandate.employer, mandate.valid_from, yesterday)
            ended = watched_form(token, forms + b"  ")
            answer = await send_watched(client, "dimona", ended)
            assert refused(answer, "no_mandate") and ended.taken == 0
    finally:
        await demo.http.aclose()
        await demo.hub.close()


async def test_a_form_refused_for_what_needs_no_body_is_refused_before_the_body_is_read(
    portal_demo,
):
    async with browser(portal_demo) as client:
        await sign_in(client, "/portal/login", "employer")
        token = csrf_of((await client.get("/portal/employer/dimona/in")).text)
        form = f"csrf={token}&employer={EMPLOYER}".encode()
        urlencoded = {"Content-Type": "application/x-www-form-urlencoded"}
        cross_site = Watched(form)
        answer = await client.post(
            "/portal/employer/dimona/in",
            content=cross_site,
            headers={**urlencoded, "Sec-Fetch-Site": "cross-site"},
        )
        assert answer.headers["x-road-error"] == "csrf_failed" and cross_site.taken == 0
        large = Watched(form, b"&note=" + b"x" * 70_000)
        answer = await client.post(
            "/portal/employer/dimona/in",
            content=large,
            headers={**SAME_ORIGIN, **urlencoded, "Content-Length": str(len(form) + 70_006)},
        )
        assert answer.headers["x-road-error"] == "payload_too_large" and large.taken == 0
