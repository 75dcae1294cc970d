"""One member's exchanges in flight are bounded (CROSSROADS_MEMBER_CONCURRENCY): past the bound it
is refused `429 member_busy` at once, unaudited but counted, while every other member's exchanges
go on; each place is given back however its exchange ends."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest
from pydantic import ValidationError

from crossroads.adapters.federation_folder import FederationFolder
from crossroads.adapters.keys import HubKeys
from crossroads.config import Settings
from crossroads.demo import country, own_access
from crossroads.domain.errors import Refusal
from crossroads.domain.federation import Offer, PeerPin
from crossroads.domain.registry import Institution
from crossroads.entrypoints.api.metrics import REGISTRY
from crossroads.services.clock import FixedClock

from ..conftest import start_demo_hub
from ..services.test_federation import A_URL, Network, federation_for
from .portal_browsing import browser, sign_in
from .test_govstack_xroad import NR, PURPOSE, audit_records, xroad_client

pytestmark = pytest.mark.anyio

LIMIT = 3
WELFARE = country.BY_KEY["welfare"].number
UNEMPLOYMENT = country.BY_KEY["unemployment"].number


class HeldProvider:
    """The hub's provider client, with every call for `held` (the consumer the hub names in the
    body it forwards) waiting until `release` is set, or failing with `failure` when one is
    given; the other members' calls go straight through."""

    def __init__(self, client, held: str) -> None:
        self._post = client.post
        self.held = held
        self.release = asyncio.Event()
        self.waiting = 0
        self.failure: Refusal | None = None

    async def post(self, url: str, body: bytes, headers: dict[str, str]):
        if orjson.loads(body).get("consumer") == self.held:
            self.waiting += 1
            try:
                await self.release.wait()
            finally:
                self.waiting -= 1
            if self.failure is not None:
                raise self.failure
        return await self._post(url, body, headers)


@pytest.fixture
async def hub(tmp_path, monkeypatch):
    demo = await start_demo_hub(tmp_path, persons=60, member_concurrency=LIMIT)
    provider = HeldProvider(demo.hub.providers, WELFARE)
    monkeypatch.setattr(demo.hub.providers, "post", provider.post)
    demo.provider = provider
    yield demo
    provider.release.set()
    await demo.http.aclose()
    await demo.hub.close()


async def until(condition, what: str) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never came: {what}")


def busy_count(institution: str) -> float:
    return (
        REGISTRY.get_sample_value("crossroads_member_busy_total", {"institution": institution})
        or 0.0
    )


def exchange(demo, token: str, subject: str):
    return demo.http.post(
        "/v1/exchange/person.identity",
        json={"subject": subject, "purpose": PURPOSE},
        headers={"Authorization": f"Bearer {token}"},
    )


def xroad_exchange(demo, token: str, subject: str):
    return demo.http.post(
        f"/r1/BE/GOV/{NR}/services/person.identity",
        json={"subject": subject, "purpose": PURPOSE},
        headers={"Authorization": f"Bearer {token}", "X-Road-Client": xroad_client(demo)},
    )


async def other_member_asks(demo):
    token = await demo.token(f"{UNEMPLOYMENT}:benefits-app")
    return await demo.http.post(
        "/v1/exchange/employment.periods",
        json={"subject": demo.held_by("unemployment")[0], "purpose": "UNEMPLOYMENT_BENEFIT"},
        headers={"Authorization": f"Bearer {token}"},
    )


@pytest.mark.parametrize("path", ["ours", "x-road"])
async def test_a_member_past_its_bound_is_refused_while_another_is_answered(hub, path):
    ask = exchange if path == "ours" else xroad_exchange
    token = await hub.token(hub.welfare)
    subject = hub.held_by("welfare")[0]
    before = len(await audit_records(hub))
    busy_before = busy_count(WELFARE)
    extra = 2
    asked = [asyncio.create_task(ask(hub, token, subject)) for _ in range(LIMIT + extra)]
    await until(lambda: sum(t.done() for t in asked) == extra, "the refusals")
    assert hub.provider.waiting == LIMIT
    assert hub.hub.member_load.in_flight(WELFARE) == LIMIT

    # Another member, at the same moment, is answered as ever.
    other = await other_member_asks(hub)
    assert other.status_code == 200, other.text

    refused = [t.result() for t in asked if t.done()]
    for answer in refused:
        assert answer.status_code == 429
        assert answer.headers["retry-after"] == "1"
        if path == "ours":
            assert answer.json()["code"] == "member_busy"
            assert "CROSSROADS_MEMBER_CONCURRENCY" in answer.json()["message"]
        else:
            assert answer.headers["x-road-error"] == "Client.member_busy"
            assert answer.json()["type"] == "Client.member_busy"
            assert f"{LIMIT} requests in flight" in answer.json()["message"]
    assert busy_count(WELFARE) - busy_before == extra

    hub.provider.release.set()
    answers = await asyncio.gather(*asked)
    assert sorted(a.status_code for a in answers) == [200] * LIMIT + [429] * extra
    assert hub.hub.member_load.in_flight(WELFARE) == 0
    # The answered ones are audited, the refused ones not: no subject was read for them.
    records = (await audit_records(hub))[before:]
    exchanges = [r for r in records if r.kind == "exchange"]
    assert sorted(r.outcome for r in exchanges) == ["ok"] * (LIMIT + 1)
    assert not [r for r in records if r.outcome == "member_busy"]


async def test_a_place_is_given_back_when_the_client_goes_away(hub):
    token = await hub.token(hub.welfare)
    subject = hub.held_by("welfare")[0]
    asked = [asyncio.create_task(exchange(hub, token, subject)) for _ in range(LIMIT)]
    await until(lambda: hub.provider.waiting == LIMIT, "the held calls")
    assert (await exchange(hub, token, subject)).status_code == 429
    for task in asked:
        task.cancel()
    await asyncio.gather(*asked, return_exceptions=True)
    assert all(t.cancelled() for t in asked)
    assert hub.hub.member_load.in_flight(WELFARE) == 0
    hub.provider.release.set()
    answer = await exchange(hub, token, subject)
    assert answer.status_code == 200, answer.text


async def test_a_place_is_given_back_when_the_provider_times_out(hub):
    token = await hub.token(hub.welfare)
    subject = hub.held_by("welfare")[0]
    hub.provider.failure = Refusal("provider_timeout", "the provider did not answer in time.")
    asked = [asyncio.create_task(exchange(hub, token, subject)) for _ in range(LIMIT)]
    await until(lambda: hub.provider.waiting == LIMIT, "the held calls")
    hub.provider.release.set()
    answers = await asyncio.gather(*asked)
    assert {a.json()["code"] for a in answers} == {"provider_timeout"}
    assert hub.hub.member_load.in_flight(WELFARE) == 0
    hub.provider.failure = None
    again = await asyncio.gather(*(exchange(hub, token, subject) for _ in range(LIMIT)))
    assert [a.status_code for a in again] == [200] * LIMIT


async def test_a_peer_hubs_member_is_bounded_on_the_peer_route(tmp_path):
    """A peer hub forwards its members' exchanges on its own route: each member it names (once
    the peer's signature holds) has its own places, as this hub's members do."""
    demo = await start_demo_hub(tmp_path, persons=20, member_concurrency=1)
    member = "0200000835"
    network, clock = Network(), FixedClock(time.time())
    keys = {n: HubKeys.load_or_create(tmp_path / n / "keys", reload_seconds=0) for n in "AB"}
    folders = {n: FederationFolder(tmp_path / n / "federation") for n in "AB"}
    store = demo.hub.store
    federation_for("A", A_URL, folders["A"], network, keys["A"], clock, store)
    demo.hub.federation = federation_for(
        "B", "http://hub.test", folders["B"], network, keys["B"], clock, store
    )
    folders["A"].write_offer(Offer(members=frozenset({member})))
    folders["B"].write_offer(Offer(services=frozenset({"person.identity"})))
    folders["B"].write_pin(PeerPin("A", A_URL, keys["A"].jwks()))
    await store.registry.put_institution(Institution(member, "A's welfare centre", peer="A"))
    path = "/v1/federation/A/exchange/person.identity/1"

    async def forwarded(rid: str):
        body = orjson.dumps(
            {
                "request_id": rid,
                "consumer": member,
                "subject": demo.held_by("welfare")[0],
                "purpose": PURPOSE,
            }
        )
        signature = keys["A"].sign_detached(
            body, {"aud": "http://hub.test" + path, "rid": rid, "iat": int(clock.now())}
        )
        return await demo.http.post(
            path,
            content=body,
            headers={"X-Crossroads-Signature": signature, "Content-Type": "application/json"},
        )

    try:
        busy_before = busy_count(member)
        with demo.hub.member_load.admitted(member):
            refused = await forwarded("r-busy")
        assert refused.status_code == 429, refused.text
        assert refused.json()["code"] == "member_busy"
        assert refused.headers["retry-after"] == "1"
        assert busy_count(member) - busy_before == 1
        # Its place free again, the member's exchange goes on to this hub's own checks (which
        # find no authorization for it here).
        answered = await forwarded("r-free")
        assert answered.json()["code"] == "no_authorization", answered.text
        assert demo.hub.member_load.in_flight(member) == 0
    finally:
        await demo.http.aclose()
        await demo.hub.close()


async def test_the_citizens_own_look_ups_are_not_counted_against_the_portals_institution(
    tmp_path,
):
    """The citizen's page asks the exchange in the process, never over a member's route: the
    bound is for members' HTTP requests, so a portal institution at its bound (here, all its one
    place taken) still shows a citizen their data."""
    demo = await start_demo_hub(tmp_path, persons=20, demo=True, member_concurrency=1)
    portal = own_access.PORTAL.enterprise_number
    try:
        with demo.hub.member_load.admitted(portal):
            with pytest.raises(Refusal, match="in flight"), demo.hub.member_load.admitted(portal):
                pass
            async with browser(demo) as client:
                assert (await sign_in(client, "/citizen/login", "citizen-3")).status_code == 303
                page = await client.get("/citizen/data?lang=en")
            assert page.status_code == 200, page.text
            assert "could not answer" not in page.text
            assert "OWN/26/004" in page.text
            assert demo.hub.member_load.in_flight(portal) == 1
    finally:
        await demo.http.aclose()
        await demo.hub.close()


def test_the_bound_is_a_setting_from_1_to_10000(tmp_path, monkeypatch):
    base = {"data_dir": tmp_path, "store_url": f"sqlite:///{tmp_path / 'hub.sqlite3'}"}
    assert Settings(**base).member_concurrency == 64
    assert Settings(**base, member_concurrency=1).member_concurrency == 1
    assert Settings(**base, member_concurrency=10_000).member_concurrency == 10_000
    for wrong in (0, 10_001, -1):
        with pytest.raises(ValidationError, match="CROSSROADS_MEMBER_CONCURRENCY"):
            Settings(**base, member_concurrency=wrong)
    monkeypatch.setenv("CROSSROADS_MEMBER_CONCURRENCY", "5")
    assert Settings(**base).member_concurrency == 5


async def test_at_its_bound_a_member_is_refused_on_every_route_it_may_use(hub):
    """Not only exchanges: whatever a member's application asks (its mailbox, its
    subscriptions, the mutation types, declarations) holds a place while it is served, so a
    flood of any of them is bounded alike; a route that takes a place twice (`/v1/holders`,
    under the member's dependency and its own) holds one."""
    token = await hub.token(hub.welfare)
    headers = {"Authorization": f"Bearer {token}"}
    subject = hub.held_by("welfare")[0]
    asked = [asyncio.create_task(exchange(hub, token, subject)) for _ in range(LIMIT)]
    await until(lambda: hub.provider.waiting == LIMIT, "the held calls")
    for path in ("/v1/mailbox", "/v1/subscriptions", "/v1/mutation-types", "/v1/declarations"):
        refused = await hub.http.get(path, headers=headers)
        assert refused.status_code == 429, (path, refused.text)
        assert refused.json()["code"] == "member_busy", path
    other = await hub.token(f"{UNEMPLOYMENT}:benefits-app")
    served = await hub.http.get("/v1/mailbox", headers={"Authorization": f"Bearer {other}"})
    assert served.status_code == 200, served.text
    hub.provider.release.set()
    await asyncio.gather(*asked)
    assert hub.hub.member_load.in_flight(WELFARE) == 0
    for path in ("/v1/mailbox", "/v1/subscriptions"):
        assert (await hub.http.get(path, headers=headers)).status_code == 200, path
    holders = await hub.http.post("/v1/holders", json={"subject": subject}, headers=headers)
    assert holders.status_code != 429 and hub.hub.member_load.in_flight(WELFARE) == 0
