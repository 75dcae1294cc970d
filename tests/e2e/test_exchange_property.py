"""Property: for random registries, directories and requests, the hub never returns data unless an
authorization and a directory entry within the consumer's integration rights allow it, and never a
field the authorization does not list."""

from __future__ import annotations

import asyncio
import tempfile
from datetime import date, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossroads.bootstrap import bootstrap
from crossroads.domain.callers import Caller
from crossroads.domain.errors import Refusal
from crossroads.domain.periods import Period, union_covers
from crossroads.domain.registry import (
    Authorization,
    Capacity,
    Institution,
    IntegrationRight,
    Service,
)
from crossroads.services.exchange import ExchangeRequest
from crossroads.services.ports import ProviderClient, ProviderReply

from ..conftest import make_settings

SOURCE, CONSUMER = "0403170701", "0411905847"
SUBJECT = "85073003328"
FIELDS = ("a", "b", "c", "d")
CAPACITIES = ("C1", "C2", "C3")
TODAY = date.today()


class EverythingProvider(ProviderClient):
    """A provider that answers every field the service has, so minimisation has work to do."""

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> ProviderReply:
        return ProviderReply(
            200, b'{"a": 1, "b": {"x": 2}, "c": [3], "d": "4"}', "application/json"
        )


def day(offset: int) -> date:
    return TODAY + timedelta(days=offset)


authorizations = st.lists(
    st.fixed_dictionaries(
        {
            "purpose": st.sampled_from(["P1", "P2"]),
            "capacities": st.lists(
                st.sampled_from(CAPACITIES), min_size=1, max_size=2, unique=True
            ),
            "fields": st.lists(st.sampled_from(FIELDS), min_size=1, max_size=4, unique=True),
            "from": st.integers(-400, 10),
            "length": st.one_of(st.none(), st.integers(0, 500)),
        }
    ),
    max_size=3,
)
integrations = st.lists(
    st.fixed_dictionaries(
        {
            "capacity": st.sampled_from(CAPACITIES),
            "from": st.integers(-400, 0),
            "length": st.one_of(st.none(), st.integers(0, 400)),
        }
    ),
    max_size=3,
)
rights = st.lists(st.sampled_from(CAPACITIES), max_size=3, unique=True)
requests = st.fixed_dictionaries(
    {
        "purpose": st.sampled_from(["P1", "P2"]),
        "from": st.integers(-300, 0),
        "length": st.integers(0, 200),
    }
)


async def scenario(tmp: Path, auths: list[dict], granted: list[str], held: list[dict], ask: dict):
    hub = await bootstrap(
        make_settings(tmp, registry_cache_seconds=0), None, EverythingProvider(), create_keys=True
    )
    try:
        await hub.registry.put_institution(
            Institution(SOURCE, "Source", "GOV", "http://source.test")
        )
        await hub.registry.put_institution(Institution(CONSUMER, "Consumer"))
        for code in CAPACITIES:
            await hub.registry.put_capacity(Capacity(code, code))
        for code in granted:
            await hub.registry.put_integration_right(IntegrationRight(CONSUMER, code, "law"))
        await hub.registry.put_service(Service("svc", "1", "Service", FIELDS, provider=SOURCE))
        for i, a in enumerate(auths):
            end = None if a["length"] is None else day(a["from"] + a["length"])
            await hub.registry.put_authorization(
                Authorization(
                    f"A/{i}",
                    CONSUMER,
                    "svc",
                    a["purpose"],
                    "law",
                    tuple(a["capacities"]),
                    tuple(a["fields"]),
                    day(a["from"]),
                    end,
                )
            )
        for h in held:
            end = None if h["length"] is None else day(h["from"] + h["length"]).isoformat()
            try:
                await hub.directory.change(
                    {
                        "subject": SUBJECT,
                        "institution": CONSUMER,
                        "capacity": h["capacity"],
                        "start": day(h["from"]).isoformat(),
                        **({"end": end} if end else {}),
                    },
                    None,
                    "test",
                )
            except Refusal as refusal:
                assert refusal.code == "no_integration_right" and h["capacity"] not in granted
        wanted = Period(day(ask["from"]), day(ask["from"] + ask["length"]))
        request = ExchangeRequest(
            caller=Caller(CONSUMER, "app"),
            service="svc",
            subject=SUBJECT,
            purpose=ask["purpose"],
            period=wanted,
        )
        try:
            return await hub.exchange.handle(request), wanted
        except Refusal as refusal:
            return refusal, wanted
    finally:
        await hub.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(authorizations, rights, integrations, requests)
def test_no_data_without_authorization_and_directory_entry(auths, granted, held, ask):
    with tempfile.TemporaryDirectory() as tmp:
        outcome, wanted = asyncio.run(scenario(Path(tmp), auths, granted, held, ask))
    if isinstance(outcome, Refusal):
        return
    used = next(a for i, a in enumerate(auths) if f"A/{i}" == outcome.authorization.reference)
    assert used["purpose"] == ask["purpose"]
    assert day(used["from"]) <= TODAY and (
        used["length"] is None or day(used["from"] + used["length"]) >= TODAY
    )
    assert day(used["from"]) <= wanted.start and (
        used["length"] is None or wanted.end <= day(used["from"] + used["length"])
    )
    periods = [
        Period(day(h["from"]), None if h["length"] is None else day(h["from"] + h["length"]))
        for h in held
        if h["capacity"] in used["capacities"] and h["capacity"] in granted
    ]
    assert union_covers(periods, wanted)
    for answer in outcome.answers:
        assert set(answer.data) <= set(used["fields"])
