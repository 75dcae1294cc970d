"""Shared pipelines that no member can stop (issue 15, section 2, and the declarations of
section 5).

A member with a valid key sends what it likes to the declaration endpoints and the batch queue.
Whatever it sends, a declaration is a 4xx with a documented code or a declaration with anomalies,
a batch file ends (result B with an anomaly or an error), the queue goes on with the next file of
another institution, one institution cannot fill the queue, and the hub's event loop stays free
while a large file is processed. Run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import logging
import os
import signal
import time
from contextlib import asynccontextmanager
from datetime import date, timedelta

import orjson
import pytest

from crossroads.demo import country, employers
from crossroads.demo.dmfa_file import WorkerLineSpec, dmfa_xml
from crossroads.domain.errors import CATALOGUE

from ..conftest import start_demo_hub
from ..e2e.test_declarations_api import EMPLOYER, EMPLOYER_NOSS, PAYROLL, dimona_in

pytestmark = pytest.mark.anyio
BATCHES = "/v1/declarations/batches/"
# An institution with no mandate for any employer.
WELFARE = f"{country.BY_KEY['welfare'].number}:case-app"
JSON_TYPE = {"Content-Type": "application/json"}
END_OF_EMPLOYMENT = "unemployment.end-of-employment"
UNKNOWN_EMPLOYER = "0403170701"  # a valid enterprise number no employer of the register has

# Raw JSON texts of odd values: control characters, lone surrogates, NaN and infinities, huge and
# negative numbers, impossible and far dates, quarters, wrong types, odd digits.
ODD = [
    '"\\u0000"',
    '"a\\u0007b"',
    '"\\ud800"',
    '"\\udfff x"',
    "NaN",
    "Infinity",
    "1e400",
    "-1",
    "0",
    "1.5",
    "99999999999999999999999999",
    "1e300",
    "18446744073709551616",
    "-9223372036854775809",
    '"9999-12-31"',
    '"10000-01-01"',
    '"0000-01-01"',
    '"-0001-01-01"',
    '"2026-02-30"',
    "99994",
    '"99994"',
    "00001",
    "true",
    "null",
    "[]",
    "{}",
    "[[[[]]]]",
    '""',
    '"\\u0663\\u0663"',
    '"\\uff11\\uff12"',
    '"24:00:00"',
    '"x' + "y" * 5000 + '"',
]


_born = itertools.count()


def start_day(demo) -> date:
    """A start of work the forms declare: tomorrow, which is never late, even when a test crosses
    midnight between the upload and the worker's decision (today's start would then be a day
    late, W)."""
    return demo.hub.clock.today() + timedelta(days=1)


def newcomer() -> str:
    """A national number no one in the demo has, different at each call (born in January 1990)."""
    n = next(_born)
    base = f"9001{1 + n // 997:02d}{n % 997 + 1:03d}"
    return base + f"{97 - int(base) % 97:02d}"


@asynccontextmanager
async def hub_on(tmp_path, store_url, **overrides):
    demo = await start_demo_hub(tmp_path, store_url, persons=40, **overrides)
    try:
        yield demo
    finally:
        await demo.http.aclose()
        await demo.hub.close()


async def employing(demo, client: str) -> None:
    """Make the client's institution an employer of the register (a welfare centre employs its
    own staff): a declarant, so that its files are kept, with no mandate for anyone else."""
    institution = client.split(":")[0]
    await demo.hub.declarations.put_employer(institution, None, "its own staff", True)


async def auth(demo, client: str = PAYROLL, **more) -> dict:
    return {"Authorization": f"Bearer {await demo.token(client)}", **more}


def leaves(doc, path=()):
    """Every path to a scalar in a JSON document."""
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from leaves(value, (*path, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            yield from leaves(value, (*path, index))
    else:
        yield path


def with_value(doc, path, raw: str) -> bytes:
    """The document as JSON bytes with the value at `path` replaced by the raw JSON text `raw`
    (raw, since orjson will not write NaN or a lone surrogate)."""
    changed = copy.deepcopy(doc)
    node = changed
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = "@@odd@@"
    return orjson.dumps(changed).replace(b'"@@odd@@"', raw.encode())


def dmfa_json(subject: str, quarter: int = 20263) -> dict:
    return {
        "Quarter": quarter,
        "NOSSRegistrationNbr": EMPLOYER_NOSS,
        "Trusteeship": 0,
        "CompanyID": EMPLOYER,
        "NetOwedAmount": 105,
        "NaturalPerson": [
            {
                "NaturalPersonSequenceNbr": 1,
                "INSS": subject,
                "WorkerRecord": {
                    "WorkerCode": "495",
                    "EmployerClass": "000",
                    "NOSSQuarterStartingDate": "2026-07-01",
                    "NOSSQuarterEndingDate": "2026-09-30",
                    "Border": 0,
                    "Occupation": {
                        "OccupationSequenceNbr": 1,
                        "OccupationStartingDate": "2026-07-01",
                        "JointCommissionNbr": "200",
                        "WorkingDaysSystem": 500,
                        "ContractType": 0,
                        "Retired": 0,
                        "Remun": {"RemunSequenceNbr": 1, "RemunCode": 1, "RemunAmount": 400_000},
                        "Service": {
                            "ServiceSequenceNbr": 1,
                            "ServiceCode": 1,
                            "ServiceNbrDays": 60,
                            "ServiceNbrHours": 100,
                        },
                    },
                    "WorkerContribution": {
                        "ContributionWorkerCode": "495",
                        "ContributionType": 0,
                        "ContributionCalculationBasis": 5,
                        "ContributionAmount": 100,
                    },
                },
            }
        ],
        "ContributionUnrelatedToNP": {
            "UnrelatedEmployerClass": "000",
            "UnrelatedWorkerCode": "851",
            "UnrelatedCalculationBasis": 5,
            "UnrelatedAmount": 5,
        },
    }


@asynccontextmanager
async def loop_stalls():
    """The gaps between turns of this event loop while the block runs (a tick every 5 ms)."""
    stalls: list[float] = []
    ticking = True

    async def ticker():
        last = time.perf_counter()
        while ticking:
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            stalls.append(now - last)
            last = now

    ticks = asyncio.create_task(ticker())
    try:
        yield stalls
    finally:
        ticking = False
        await ticks


async def audit_records(demo, after: int = 0) -> list[dict]:
    return [json.loads(entry) for _, entry in await demo.hub.store.audit.read(after, 100_000)]


async def audit_size(demo) -> int:
    return await demo.hub.store.audit.count()


async def upload(demo, kind: str, body: bytes, headers: dict):
    return await demo.http.post(BATCHES + kind, content=body, headers=headers)


async def acknowledgement(demo, response, headers: dict) -> dict:
    return (
        await demo.http.get(response.headers["location"] + "/acknowledgement", headers=headers)
    ).json()


def assert_documented(response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        code = response.json()["code"]
        assert code in CATALOGUE and CATALOGUE[code].status == response.status_code, response.text


# Poison batches -------------------------------------------------------------------------------

POISON = {
    "the reported DIMONA: a NUL as the start date": (
        "dimona",
        b'[{"DimonaIn":{"StartingDate":"\\u0000"}}]',
    ),
    "a lone surrogate": ("dimona", b'[{"DimonaIn":{"StartingDate":"\\ud800"}}]'),
    "NaN": ("dimona", b'[{"DimonaIn":{"PlannedHoursNbr":NaN}}]'),
    "nesting deeper than JSON parsers go": ("dimona", b"[" * 5000 + b"]" * 5000),
    "a form that is no object": ("dimona", b'[5, "x", null]'),
    "a control character in a key": ("dimona", b'[{"Dimona\\u0001In":{}}]'),
    "a control character as an XML character reference": (
        "dimona",
        b"<Dimona><Form>&#1;</Form></Dimona>",
    ),
    "a DmfA of quarter 99994 in JSON": ("dmfa", None),
    "a DmfA of quarter 99994 in XML": ("dmfa", b""),
    "the same DmfA holding a control character": (
        "dmfa",
        b'{"Quarter": 20263, "CompanyID": "\\u001f"}',
    ),
}


def poison_body(kind: str, body: bytes | None, demo) -> tuple[bytes, str]:
    if body is None:
        return orjson.dumps(
            dmfa_json(demo.seeded["subjects"][2], quarter=99994)
        ), "application/json"
    if body == b"":
        return dmfa_xml(
            99994,
            EMPLOYER_NOSS,
            EMPLOYER,
            [WorkerLineSpec(demo.seeded["subjects"][2])],
            demo.hub.declarations.dmfa_rates,
        ), "application/xml"
    return body, "application/json" if not body.startswith(b"<") else "application/xml"


@pytest.mark.parametrize("case", list(POISON))
async def test_a_poison_batch_ends_as_B_and_another_institution_s_batch_is_processed(
    tmp_path, store_url, case
):
    kind, raw = POISON[case]
    async with hub_on(tmp_path, store_url) as demo:
        await employing(demo, WELFARE)
        intruder = await auth(demo, WELFARE)
        body, media = poison_body(kind, raw, demo)
        poison = await upload(demo, kind, body, {**intruder, "Content-Type": media})
        assert poison.status_code == 202, poison.text
        payroll = await auth(demo, **JSON_TYPE)
        subject = newcomer()
        later = await upload(
            demo, "dimona", orjson.dumps([dimona_in(subject, start_day(demo))]), payroll
        )
        before = await audit_size(demo)

        assert await demo.hub.declaration_batches.process_waiting(limit=5) == 2

        refused = await acknowledgement(demo, poison, intruder)
        assert refused["result"] == "B", refused
        errors = [refused["error"]["code"]] if "error" in refused else []
        anomalies = [a["errorId"] for d in refused.get("declarations", []) for a in d["anomalies"]]
        assert errors or anomalies, refused
        assert "batch_failed" not in errors  # the cause is handled, not only contained
        assert all(code in CATALOGUE for code in errors)
        if kind == "dmfa" and "99994" in case:
            assert "00013-008" in anomalies
        assert (await acknowledgement(demo, later, payroll))["result"] == "A"
        ends = [
            r for r in await audit_records(demo, before) if r.get("action", "").startswith("batch.")
        ]
        assert {r["target"] for r in ends} == {
            poison.headers["location"].rsplit("/", 1)[1],
            later.headers["location"].rsplit("/", 1)[1],
        }


async def test_odd_values_in_every_field_are_a_documented_4xx_or_anomalies_never_a_500(
    tmp_path, store_url
):
    async with hub_on(tmp_path, store_url, declaration_batch_quota_files=500) as demo:
        h = await auth(demo, **JSON_TYPE)
        start = start_day(demo)
        subject = newcomer()
        opened = await demo.http.post(
            "/v1/declarations/dimona", json=dimona_in(subject, start), headers=h
        )
        period = opened.json()["dimonaPeriodId"]
        documents = {
            "dimona": [
                employers.dimona_in(newcomer(), EMPLOYER, start, "STU"),
                {
                    "DimonaOut": {
                        "DimonaPeriodId": period,
                        "EndingDate": start.isoformat(),
                        "EmployerId": {"CompanyID": EMPLOYER},
                        "INSS": subject,
                    }
                },
                {
                    "DimonaUpdate": {
                        "DimonaPeriodId": period,
                        "StartingDate": start.isoformat(),
                        "EndingDate": start.isoformat(),
                        "EmployerId": {"CompanyID": EMPLOYER},
                    }
                },
                {
                    "DimonaCancel": {
                        "DimonaPeriodId": period,
                        "EmployerId": {"NOSSRegistrationNbr": EMPLOYER_NOSS},
                    }
                },
            ],
            "dmfa": [dmfa_json(subject)],
        }
        # Each is a readable form, so odd values reach the rules.
        for kind, docs in documents.items():
            for doc in docs:
                assert (
                    await demo.http.post(f"/v1/declarations/{kind}", json=doc, headers=h)
                ).status_code == 201

        before, sent = await audit_size(demo), 0
        for kind, docs in documents.items():
            for doc in docs:
                for path in leaves(doc):
                    for raw in ODD:
                        response = await demo.http.post(
                            f"/v1/declarations/{kind}",
                            content=with_value(doc, path, raw),
                            headers=h,
                        )
                        assert_documented(response)
                        sent += 1
        assert await audit_size(demo) - before >= sent  # each declaration or refusal is in the log

        uploads = []
        for raw in (
            ODD
        ):  # in batch files: every DIMONA field at once; the DmfA's quarter and first worker's INSS
            forms = (
                b"["
                + b", ".join(
                    with_value(documents["dimona"][0], path, raw)
                    for path in leaves(documents["dimona"][0])
                )
                + b"]"
            )
            uploads.append(await upload(demo, "dimona", forms, h))
            for path in (("Quarter",), ("NaturalPerson", 0, "INSS")):
                uploads.append(
                    await upload(demo, "dmfa", with_value(documents["dmfa"][0], path, raw), h)
                )
        assert {u.status_code for u in uploads} == {202}
        await demo.hub.declaration_batches.process_waiting(limit=len(uploads))
        for uploaded in uploads:
            ack = await acknowledgement(demo, uploaded, h)
            assert (
                ack["result"] in ("A", "W", "B")
                and ack.get("error", {}).get("code") != "batch_failed"
            ), ack


async def test_the_reported_single_declarations_are_refused_with_a_code_and_audited(
    tmp_path, store_url
):
    async with hub_on(tmp_path, store_url) as demo:
        h = await auth(demo, WELFARE, **JSON_TYPE)
        nul = await demo.http.post(
            "/v1/declarations/dimona", content=b'{"DimonaIn":{"StartingDate":"\\u0000"}}', headers=h
        )
        assert (
            nul.status_code == 400
            and nul.json()["code"] == "malformed_request"
            and nul.json()["field"] == "DimonaIn.StartingDate"
        )
        nan = await demo.http.post("/v1/declarations/dmfa", content=b'{"Quarter": NaN}', headers=h)
        assert nan.status_code == 400 and nan.json()["code"] == "malformed_request"
        payroll = await auth(demo, **JSON_TYPE)
        future = await demo.http.post(
            "/v1/declarations/dmfa", json=dmfa_json(newcomer(), quarter=99994), headers=payroll
        )
        assert future.status_code == 201 and future.json()["result"] == "B"
        assert "00013-008" in [a["errorId"] for a in future.json()["anomalies"]]
        records = await audit_records(demo)
        refused = [
            r
            for r in records
            if r.get("outcome") == "malformed_request" and r.get("kind") == "request"
        ]
        assert len(refused) == 2 and {r["action"] for r in refused} == {
            "POST /v1/declarations/dimona",
            "POST /v1/declarations/dmfa",
        }
        assert any(r.get("target") == str(future.json()["declarationId"]) for r in records)


# Failures of the hub's own ------------------------------------------------------------------


async def test_an_unexpected_failure_ends_the_batch_once_and_the_queue_goes_on(
    tmp_path, store_url, caplog
):
    async with hub_on(tmp_path, store_url) as demo:
        h = await auth(demo, **JSON_TYPE)
        declared = [s for s, e, *_ in employers.employed(demo.seeded["subjects"]) if e == EMPLOYER]
        dmfa = dmfa_xml(
            20263,
            EMPLOYER_NOSS,
            EMPLOYER,
            [WorkerLineSpec(s) for s in declared],
            demo.hub.declarations.dmfa_rates,
        )
        failing = await upload(demo, "dmfa", dmfa, {**h, "Content-Type": "application/xml"})
        await employing(demo, WELFARE)
        welfare = await auth(demo, WELFARE, **JSON_TYPE)
        later = await upload(
            demo, "dimona", orjson.dumps([dimona_in(newcomer(), start_day(demo))]), welfare
        )
        # A fault outside the hub's code: the table an accepted DmfA is stored in is gone.
        async with demo.hub.store.db.transaction() as tx:
            await tx.execute("ALTER TABLE quarterly_wages RENAME TO quarterly_wages_away")
        with caplog.at_level(logging.ERROR, logger="crossroads.declarations"):
            assert await demo.hub.declaration_batches.process_waiting(limit=5) == 2
        async with demo.hub.store.db.transaction() as tx:
            await tx.execute("ALTER TABLE quarterly_wages_away RENAME TO quarterly_wages")

        failed = await acknowledgement(demo, failing, h)
        assert failed["result"] == "B" and failed["error"]["code"] == "batch_failed", failed
        assert (await acknowledgement(demo, later, welfare))[
            "result"
        ] == "B"  # processed (no mandate: 90256-155)
        logged = [
            r for r in caplog.records if "failed" in r.getMessage() and "batch" in r.getMessage()
        ]
        assert (
            len(logged) == 1 and "quarterly_wages" in logged[0].getMessage()
        )  # once, with the worker's traceback
        [end] = [r for r in await audit_records(demo) if r.get("action") == "batch.dmfa"]
        assert end["outcome"] == "batch_failed"

        again = await upload(demo, "dmfa", dmfa, {**h, "Content-Type": "application/xml"})
        assert again.status_code == 202 and again.headers["location"] != failing.headers["location"]
        await demo.hub.declaration_batches.process_waiting()
        assert (await acknowledgement(demo, again, h))["result"] == "A"


async def test_a_batch_that_keeps_stopping_its_worker_ends_and_the_queue_goes_on(
    tmp_path, store_url
):
    async with hub_on(tmp_path, store_url, declaration_batch_max_attempts=2) as demo:
        h = await auth(demo, **JSON_TYPE)
        start = start_day(demo)
        stopping = await upload(
            demo, "dimona", orjson.dumps([dimona_in(newcomer(), start) for _ in range(1)]), h
        )
        await employing(demo, WELFARE)
        welfare = await auth(demo, WELFARE, **JSON_TYPE)
        other = await upload(demo, "dimona", orjson.dumps([dimona_in(newcomer(), start)]), welfare)
        store = demo.hub.store.declarations
        batch_id = int(stopping.headers["location"].rsplit("/", 1)[1])
        # Twice a worker started on it and the whole process died (the count is stored first).
        assert [await store.start_batch(batch_id, 1), await store.start_batch(batch_id, 2)] == [
            1,
            2,
        ]

        assert await demo.hub.declaration_batches.process_waiting(limit=5) == 2
        ended = await acknowledgement(demo, stopping, h)
        assert (
            ended["result"] == "B"
            and ended["error"]["code"] == "batch_failed"
            and ended["forms"] == 0
        )
        assert (await acknowledgement(demo, other, welfare))["result"] == "B"
        assert (await demo.http.get(stopping.headers["location"], headers=h)).json()[
            "result"
        ] == "B"


async def test_a_worker_killed_midway_is_replaced_and_its_file_resumed_then_ended(
    tmp_path, store_url
):
    async with hub_on(tmp_path, store_url, declaration_batch_max_attempts=2) as demo:
        h = await auth(demo, **JSON_TYPE)
        start = start_day(demo)
        # Enough forms that the worker is still at work when it is killed, however slowly this
        # process polls on a loaded machine (300 were once all decided between two polls).
        subjects = [newcomer() for _ in range(2000)]
        uploaded = await upload(
            demo, "dimona", orjson.dumps([dimona_in(s, start) for s in subjects]), h
        )
        batch_id = int(uploaded.headers["location"].rsplit("/", 1)[1])
        batches, store = demo.hub.declaration_batches, demo.hub.store.declarations

        for _attempt in (1, 2):
            # The first worker may have decided hundreds of forms between the last poll and its
            # death: this attempt waits for its own worker and ten forms of its own.
            before = len(await store.batch_declarations(batch_id))
            working = asyncio.create_task(batches.process_waiting())
            deadline = time.monotonic() + 60
            # The store tells nobody when a form is decided: poll for it, within the deadline.
            while (  # noqa: ASYNC110
                batches._worker.pid is None
                or len(await store.batch_declarations(batch_id)) < before + 10
            ) and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            pid = batches._worker.pid
            assert (
                pid is not None and pid != os.getpid()
            )  # the forms are decided in another process
            os.kill(pid, signal.SIGKILL)
            assert await working == 1
            assert (
                await store.batch(batch_id)
            ).status == "S"  # waiting again, resumed on its next turn
        decided = len(await store.batch_declarations(batch_id))
        assert await batches.process_waiting() == 1
        ended = await acknowledgement(demo, uploaded, h)
        assert ended["error"]["code"] == "batch_failed" and ended["forms"] == decided
        assert [len(await store.periods_of(s)) for s in subjects] == [1] * decided + [0] * (
            len(subjects) - decided
        )  # each once

        fresh = await upload(demo, "dimona", orjson.dumps([dimona_in(newcomer(), start)]), h)
        assert await batches.process_waiting() == 1  # a new worker process
        assert (await acknowledgement(demo, fresh, h))["result"] == "A"


# Fairness, quotas, limits, identity --------------------------------------------------------------


async def test_institutions_take_turns_in_the_batch_queue(tmp_path, store_url):
    async with hub_on(tmp_path, store_url) as demo:
        await employing(demo, WELFARE)
        payroll, welfare = await auth(demo, **JSON_TYPE), await auth(demo, WELFARE, **JSON_TYPE)
        start = start_day(demo)
        sent = [
            await upload(demo, "dimona", orjson.dumps([dimona_in(newcomer(), start)]), payroll)
            for _ in range(3)
        ]
        sent.append(
            await upload(demo, "dimona", orjson.dumps([dimona_in(newcomer(), start)]), welfare)
        )
        ids = [int(s.headers["location"].rsplit("/", 1)[1]) for s in sent]
        order = []
        while (batch := await demo.hub.store.declarations.next_batch()) is not None:
            order.append(batch.id)
            assert await demo.hub.declaration_batches.process_waiting() == 1
        assert order == [
            ids[0],
            ids[3],
            ids[1],
            ids[2],
        ]  # the welfare centre's file waits for one of payroll's, not three


async def test_an_institution_cannot_fill_the_queue(tmp_path, store_url):
    async with hub_on(
        tmp_path, store_url, declaration_batch_quota_files=2, declaration_batch_quota_bytes=4096
    ) as demo:
        h = await auth(demo, **JSON_TYPE)
        start = start_day(demo)
        files = [orjson.dumps([dimona_in(newcomer(), start)]) for _ in range(3)]
        assert [(await upload(demo, "dimona", f, h)).status_code for f in files[:2]] == [202, 202]
        assert (
            await upload(demo, "dimona", files[0], h)
        ).status_code == 200  # a file sent again is no new file
        refused = await upload(demo, "dimona", files[2], h)
        assert refused.status_code == 429 and refused.json()["code"] == "quota_exceeded", (
            refused.text
        )
        assert any(r.get("outcome") == "quota_exceeded" for r in await audit_records(demo))
        await employing(demo, WELFARE)
        welfare = await auth(demo, WELFARE, **JSON_TYPE)
        assert (
            await upload(demo, "dimona", files[2], welfare)
        ).status_code == 202  # others are not held back

        await demo.hub.declaration_batches.process_waiting(limit=5)
        assert (
            await upload(demo, "dimona", files[2], h)
        ).status_code == 202  # processed files leave the quota
        big = orjson.dumps([dimona_in(newcomer(), start)] * 30)
        assert len(big) > 4096
        too_much = await upload(demo, "dimona", big, h)
        assert too_much.status_code == 429 and "bytes" in too_much.json()["message"]


async def test_each_kind_of_batch_file_has_its_own_size_limit(tmp_path, store_url):
    async with hub_on(
        tmp_path, store_url, dimona_batch_max_bytes=2048, dmfa_batch_max_bytes=8192
    ) as demo:
        h = await auth(demo, **JSON_TYPE)
        body = orjson.dumps([dimona_in(newcomer(), start_day(demo))] * 12)
        assert 2048 < len(body) < 8192
        too_large = await upload(demo, "dimona", body, h)
        assert too_large.status_code == 413 and too_large.json()["code"] == "payload_too_large"
        assert (await upload(demo, "dmfa", body, h)).status_code == 202
        assert (await upload(demo, "dmfa", body + b" " * 8192, h)).status_code == 413


async def test_the_same_bytes_sent_as_two_kinds_are_two_batches(tmp_path, store_url):
    async with hub_on(tmp_path, store_url) as demo:
        h = await auth(demo, **JSON_TYPE)
        subject = newcomer()
        body = orjson.dumps([dimona_in(subject, start_day(demo))])
        as_dmfa = await upload(demo, "dmfa", body, h)
        as_dimona = await upload(demo, "dimona", body, h)
        assert (as_dmfa.status_code, as_dimona.status_code) == (202, 202)
        assert as_dmfa.headers["location"] != as_dimona.headers["location"]
        assert await demo.hub.declaration_batches.process_waiting(limit=5) == 2
        assert (await acknowledgement(demo, as_dmfa, h))["error"]["code"] == "malformed_request"
        assert (await acknowledgement(demo, as_dimona, h))["result"] == "A"
        assert len(await demo.hub.store.declarations.periods_of(subject)) == 1


# The event loop ------------------------------------------------------------------------------


async def test_the_hub_answers_while_a_large_batch_is_processed(tmp_path, store_url):
    async with hub_on(tmp_path, store_url) as demo:
        h = await auth(demo, **{"Content-Type": "application/xml"})
        subjects = country.persons(10_000, seed=23)
        dmfa = dmfa_xml(
            20263,
            EMPLOYER_NOSS,
            EMPLOYER,
            [WorkerLineSpec(s) for s in subjects],
            demo.hub.declarations.dmfa_rates,
        )
        started = time.perf_counter()
        demo.hub.declarations.forms.read_dmfa(dmfa)
        parse_seconds = (
            time.perf_counter() - started
        )  # what reading the file alone holds a loop for, here
        uploaded = await upload(demo, "dmfa", dmfa, h)
        await demo.hub.declaration_batches._worker.start()

        answered_while_waiting = 0
        async with loop_stalls() as stalls:
            working = asyncio.create_task(demo.hub.declaration_batches.process_waiting())
            while not working.done():
                assert (await demo.http.get("/health")).status_code == 200
                if (
                    await demo.hub.store.declarations.batch(
                        int(uploaded.headers["location"].rsplit("/", 1)[1])
                    )
                ).status == "S":
                    answered_while_waiting += 1
                await asyncio.sleep(0.02)
        assert await working == 1
        assert (await acknowledgement(demo, uploaded, h))["result"] in ("A", "W")
        assert answered_while_waiting >= 3
        # Processing (parse, checks, 10,000 rows stored) runs in the worker process: the loop here
        # never stood still for as long as reading the file alone takes.
        assert max(stalls) < parse_seconds, (max(stalls), parse_seconds)


async def test_a_single_form_is_read_off_the_event_loop(tmp_path, store_url):
    """A form sent alone is read (converted, checked against the schema) on a thread of its own:
    a hostile one, 40,000 values in one field, holds the loop for less than reading it takes."""
    async with hub_on(tmp_path, store_url) as demo:
        h = await auth(demo, **JSON_TYPE)
        hostile = {"Quarter": 20263, "NOSSRegistrationNbr": list(range(40_000))}
        started = time.perf_counter()
        demo.hub.declarations.forms.read_dmfa(hostile)
        read_seconds = time.perf_counter() - started

        async with loop_stalls() as stalls:
            sent = await demo.http.post("/v1/declarations/dmfa", json=hostile, headers=h)
        assert sent.status_code == 201 and sent.json()["result"] == "B"
        assert max(stalls) < read_seconds, (max(stalls), read_seconds)


async def test_bodies_too_many_values_or_attributes_are_refused_before_they_are_read(
    tmp_path, store_url
):
    """One body cannot buy seconds of a hub process: JSON with more values than a route reads
    is a 413, a form's XML with thousands of attributes (the official forms carry none) a 400,
    each refused before any walk over it, and audited."""
    async with hub_on(tmp_path, store_url) as demo:
        h = await auth(demo, WELFARE, **JSON_TYPE)
        many = orjson.dumps({"DimonaIn": {"StartingDate": [0] * 340_000}})
        dimona = await demo.http.post("/v1/declarations/dimona", content=many, headers=h)
        assert dimona.status_code == 413 and dimona.json()["code"] == "payload_too_large"
        large = orjson.dumps({"DimonaIn": {"StartingDate": "x" * 70_000}})
        assert (await demo.http.post("/v1/declarations/dimona", content=large, headers=h)).json()[
            "code"
        ] == "payload_too_large"  # one form is at most 64 KiB
        just_over = orjson.dumps({"DimonaIn": {"StartingDate": [0] * 2_000}})
        assert (
            await demo.http.post("/v1/declarations/dimona", content=just_over, headers=h)
        ).status_code == 413
        anonymous = await demo.http.post(
            "/v1/rights/simulations",
            content=orjson.dumps({"income": [0] * 60_000}),
            headers=JSON_TYPE,
        )
        assert anonymous.status_code == 413 and anonymous.json()["code"] == "payload_too_large"
        keys = orjson.dumps({f"k{i}": i for i in range(60_000)})
        directory = await demo.http.post("/v1/directory/changes", content=keys, headers=h)
        assert directory.status_code == 413
        attributes = b"<Dimona " + b" ".join(b'a%d=""' % i for i in range(60_000)) + b"/>"
        xml = await demo.http.post(
            "/v1/declarations/dmfa",
            content=attributes,
            headers={**h, "Content-Type": "application/xml"},
        )
        assert xml.status_code == 400 and xml.json()["code"] == "malformed_xml"
        refused = [
            r
            for r in await audit_records(demo)
            if r.get("outcome") in ("payload_too_large", "malformed_xml")
        ]
        assert len(refused) == 6, refused


async def test_an_institution_that_declares_for_no_one_has_nothing_stored(tmp_path, store_url):
    """A form naming no employer (or an unknown one), an unreadable form and a batch file from an
    institution that is neither an employer nor a payroll office with a mandate are refused,
    audited, and leave nothing in the store (an outside review stored such forms as result B
    without bound, and then social-risk declarations naming an unknown employer, with any
    person's INSS and wage); a payroll office's form naming no employer is still a declaration
    B."""
    async with hub_on(tmp_path, store_url) as demo:
        welfare = await auth(demo, WELFARE, **JSON_TYPE)
        start = start_day(demo)
        no_employer = dimona_in(newcomer(), start)
        no_employer["DimonaIn"].pop("EmployerId")
        risk_of_unknown_employer = {
            "inss": newcomer(),
            "employer": UNKNOWN_EMPLOYER,
            "last_day_worked": start.isoformat(),
            "end_reason": "dismissal",
            "weekly_hours": 38,
            "reference_weekly_hours": 38,
            "gross_monthly_cents": 300_000,
        }
        before = await audit_size(demo)
        for path, body in (
            ("/v1/declarations/dimona", no_employer),
            ("/v1/declarations/dimona", {"DimonaIn": {"StartingDate": "not a date"}}),
            ("/v1/declarations/dmfa", dmfa_json(newcomer()) | {"NOSSRegistrationNbr": "1"}),
            (f"/v1/declarations/social-risk/{END_OF_EMPLOYMENT}", risk_of_unknown_employer),
        ):
            refused = await demo.http.post(path, json=body, headers=welfare)
            assert (refused.status_code, refused.json()["code"]) == (403, "no_mandate"), (
                path,
                refused.text,
            )
        batch = await upload(demo, "dimona", orjson.dumps([no_employer]), welfare)
        assert (batch.status_code, batch.json()["code"]) == (403, "no_mandate")
        records = (await audit_records(demo))[before:]
        assert [r["outcome"] for r in records] == ["no_mandate"] * 5
        assert (
            await demo.hub.store.declarations.declarations_of(WELFARE.split(":")[0], None, 10) == []
        )

        payroll = await auth(demo, **JSON_TYPE)
        kept = await demo.http.post("/v1/declarations/dimona", json=no_employer, headers=payroll)
        assert kept.status_code == 201 and kept.json()["result"] == "B"
