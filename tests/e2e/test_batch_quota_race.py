"""An institution's batch quota holds when its uploads arrive at once (docs/security.md,
"Shared pipelines"): each upload's quota is checked in the transaction that stores its file, one
institution's uploads one after the other, so N uploads sent together never store more files
than the quota, through the portal's form and through the API alike, on both stores."""

from __future__ import annotations

import asyncio
from datetime import date

import orjson
import pytest

from crossroads.demo import country, employers

from ..conftest import start_demo_hub
from .portal_browsing import SAME_ORIGIN, browser, csrf_of, sign_in

pytestmark = pytest.mark.anyio
EMPLOYER = employers.EMPLOYERS[0][0]
PAYROLL = country.BY_KEY["payroll"].number
QUOTA, SENT = 2, 8
BOUNDARY = "quota-race"


@pytest.fixture
async def demo(tmp_path, store_url):
    hub = await start_demo_hub(
        tmp_path, store_url, persons=20, demo=True, declaration_batch_quota_files=QUOTA
    )
    yield hub
    await hub.http.aclose()
    await hub.hub.close()


def files() -> list[bytes]:
    """SENT different files (a file sent again is answered with its first batch, not counted)."""
    workers = country.persons(60)[-SENT:]
    return [orjson.dumps([employers.dimona_in(w, EMPLOYER, date.today(), "OTH")]) for w in workers]


async def waiting(demo) -> int:
    return (await demo.hub.store.declarations.waiting_batches(PAYROLL)).files


async def test_uploads_at_once_through_the_portal_store_no_more_than_the_quota(demo):
    async with browser(demo) as client:
        await sign_in(client, "/portal/login", "payroll-office")
        token = csrf_of((await client.get("/portal/employer/batches")).text)

        async def upload(content: bytes):
            head = (
                f"--{BOUNDARY}\r\n"
                'Content-Disposition: form-data; name="csrf"\r\n\r\n'
                f"{token}\r\n--{BOUNDARY}\r\n"
                'Content-Disposition: form-data; name="file"; filename="forms.json"\r\n'
                "Content-Type: application/json\r\n\r\n"
            )
            form = head.encode() + content + f"\r\n--{BOUNDARY}--\r\n".encode()
            return await client.post(
                "/portal/employer/batches/dimona",
                content=form,
                headers={
                    **SAME_ORIGIN,
                    "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
                },
            )

        answers = await asyncio.gather(*(upload(f) for f in files()))
    stored = [a for a in answers if a.status_code == 303]
    refused = [a for a in answers if a.headers.get("x-road-error") == "quota_exceeded"]
    assert (len(stored), len(refused)) == (QUOTA, SENT - QUOTA), [a.status_code for a in answers]
    assert await waiting(demo) == QUOTA


async def test_uploads_at_once_through_the_api_store_no_more_than_the_quota(demo):
    headers = {
        "Authorization": f"Bearer {await demo.token(f'{PAYROLL}:payroll-app')}",
        "Content-Type": "application/json",
    }
    answers = await asyncio.gather(
        *(
            demo.http.post("/v1/declarations/batches/dimona", content=f, headers=headers)
            for f in files()
        )
    )
    stored = [a for a in answers if a.status_code == 202]
    refused = [a for a in answers if a.headers.get("x-road-error") == "quota_exceeded"]
    assert (len(stored), len(refused)) == (QUOTA, SENT - QUOTA), [a.text for a in answers]
    assert await waiting(demo) == QUOTA
