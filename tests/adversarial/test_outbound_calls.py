"""Outbound calls the hub signs: a member's webhook address is one the operator registered for it,
and never the hub's own network (loopback, link-local, private) unless the operator says so."""

from __future__ import annotations

import pytest
from aiohttp import web

from crossroads.adapters.provider_client import AiohttpProviderClient
from crossroads.demo import country
from crossroads.domain.errors import Refusal
from tests.conftest import start_demo_hub

pytestmark = pytest.mark.anyio

OPERATOR = {"Authorization": "Bearer operator-secret-for-tests"}
WELFARE = country.BY_KEY["welfare"]
INTERNAL = [
    "http://127.0.0.1:9999/hooks",
    "http://[::1]:9999/hooks",
    "http://169.254.169.254/hooks",
    "http://10.0.0.1/hooks",
    "http://192.168.1.5/hooks",
    "http://[fe80::1]/hooks",
    "http://[::ffff:127.0.0.1]/hooks",
    "http://0.0.0.0/hooks",
    "http://localhost:9999/hooks",
]
PUBLIC = "https://welfare.example/hooks"


@pytest.fixture
def demo(demo_on):
    return demo_on


async def hub_with_bases(tmp_path, store_url, **settings):
    demo = await start_demo_hub(tmp_path, store_url, persons=20, **settings)
    bases = [PUBLIC, *INTERNAL, "http://hub.test/sources"]
    answer = await demo.http.put(
        f"/admin/institutions/{WELFARE.number}",
        headers=OPERATOR,
        json={"name": WELFARE.name, "webhook_bases": bases},
    )
    assert answer.status_code == 200, answer.text
    # The demo's welfare centre reads births and deaths from its mailbox: it lets those go, so
    # that the tests may subscribe to them by webhook.
    token = await demo.token(demo.welfare)
    mine = (
        await demo.http.get("/v1/subscriptions", headers={"Authorization": f"Bearer {token}"})
    ).json()
    for subscription in mine:
        if subscription["mutation_type"] in ("person.birth", "person.death"):
            gone = await demo.http.delete(
                f"/v1/subscriptions/{subscription['id']}",
                headers={"Authorization": f"Bearer {token}"},
            )
            assert gone.status_code == 204, gone.text
    return demo


async def subscribe(demo, webhook_url, mutation_type: str = "person.birth"):
    token = await demo.token(demo.welfare)
    return await demo.http.post(
        "/v1/subscriptions",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "mutation_type": mutation_type,
            "purpose": "SOCIAL_INTEGRATION",
            "mode": "push",
            "webhook_url": webhook_url,
        },
    )


async def test_webhooks_only_under_registered_addresses_and_never_internal(tmp_path, store_url):
    demo = await hub_with_bases(tmp_path, store_url)
    try:
        for url in (
            "https://attacker.example/hooks",
            "https://welfare.example/hooksx",
            "https://welfare.example:444/hooks",
            "http://welfare.example/hooks",
            "http://providers.test:9001/webhooks/mutations",
        ):
            answer = await subscribe(demo, url)
            assert (answer.status_code, answer.json()["code"]) == (422, "webhook_not_allowed"), (
                url,
                answer.text,
            )
        for url in INTERNAL:
            answer = await subscribe(demo, url)
            assert (answer.status_code, answer.json()["code"]) == (422, "webhook_not_allowed"), (
                url,
                answer.text,
            )
            assert "loopback" in answer.json()["message"]
        answer = await subscribe(
            demo, "http://hub.test/sources/declarations/services/dimona.periods/1"
        )
        assert (answer.status_code, answer.json()["code"]) == (422, "webhook_not_allowed")
        assert "hub itself" in answer.json()["message"]
        for url in (
            "https://user:pw@welfare.example/hooks",
            "https://welfare.example/hooks#x",
            "ftp://welfare.example/hooks",
            "https://welfare.example/hooks/\u0000",
            "https://welfare.example:99999/hooks",
            "x" * 3000,
            42,
            # Dot segments the HTTP client resolves before it sends (found by an outside review:
            # /hooks/a/../b was checked under /hooks/a and sent to /hooks/b), written every way.
            PUBLIC + "/../other",
            PUBLIC + "/a/../../hub/sources/declarations",
            PUBLIC + "/./births",
            PUBLIC + "/%2e%2e/other",
            PUBLIC + "/%2E./other",
            PUBLIC + "/a%2f..%2fother",
            PUBLIC + "/a%5c..%5cother",
        ):
            answer = await subscribe(demo, url)
            assert (
                answer.status_code in (400, 422) and answer.json()["code"] == "malformed_request"
            ), (url, answer.text)
        answer = await subscribe(demo, PUBLIC + "/births")
        assert answer.status_code == 201, answer.text
    finally:
        await demo.http.aclose()
        await demo.hub.close()


async def test_the_operator_may_allow_internal_webhooks_but_never_the_hub_itself(
    tmp_path, store_url
):
    demo = await hub_with_bases(tmp_path, store_url, allow_internal_webhooks=True)
    try:
        answer = await subscribe(demo, "http://127.0.0.1:9999/hooks/births")
        assert answer.status_code == 201, answer.text
        answer = await subscribe(demo, "http://hub.test/sources/declarations", "person.death")
        assert (answer.status_code, answer.json()["code"]) == (422, "webhook_not_allowed")
    finally:
        await demo.http.aclose()
        await demo.hub.close()


def test_registering_a_webhook_base_checks_its_form(tmp_path):
    """The operator's side: a base is an http(s) prefix without credentials, query or fragment."""
    from crossroads.domain.webhooks import check_webhook_base

    for bad in (
        "ftp://a.example/",
        "https://u:p@a.example/",
        "https://a.example/?q=1",
        "https://a.example/#f",
        "",
        None,
    ):
        with pytest.raises(Refusal):
            check_webhook_base(bad)
    assert check_webhook_base("https://a.example/hooks") == "https://a.example/hooks"


@pytest.fixture
async def local_webhook():
    """A real HTTP server on the loopback interface: what a webhook aimed inside would reach."""
    received = []

    async def hook(request):
        received.append(await request.read())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hooks", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield port, received
    await runner.cleanup()


async def test_the_webhook_client_connects_only_to_public_addresses_whatever_the_name(
    local_webhook,
):
    port, received = local_webhook
    public_only = AiohttpProviderClient(2, 2, 4, public_only=True)
    anywhere = AiohttpProviderClient(2, 2, 4)
    try:
        with pytest.raises(Refusal) as caught:  # an address literal
            await public_only.post(f"http://127.0.0.1:{port}/hooks", b"[]", {})
        assert caught.value.code == "webhook_not_allowed"
        with pytest.raises(
            Refusal
        ) as caught:  # a name that resolves inside (as a rebinding name would)
            await public_only.post(f"http://localhost:{port}/hooks", b"[]", {})
        assert caught.value.code == "provider_unavailable"
        assert received == []
        reply = await anywhere.post(f"http://127.0.0.1:{port}/hooks", b"[]", {})
        assert reply.status == 204 and received == [b"[]"]
    finally:
        await public_only.close()
        await anywhere.close()


async def test_an_address_the_operator_withdraws_is_not_pushed_to_again(demo):
    from crossroads.adapters.outbox_queue import OutboxPushQueue
    from crossroads.services.clock import FixedClock
    from crossroads.services.push import PushDispatcher
    from tests.e2e.test_mutations_api import (
        Webhook,
        audit_records,
        move,
        publish,
        with_test_type,
    )
    from tests.e2e.test_mutations_api import (
        subscribe as subscribe_test_type,
    )
    from tests.support import AsgiProviderClient

    hub = await with_test_type(demo)  # registers http://hooks.test:8443/ for the welfare centre
    assert (
        await subscribe_test_type(hub, mode="push", webhook_url="http://hooks.test:8443/events")
    ).status_code == 201
    webhook = Webhook()
    push = PushDispatcher(
        hub.hub.store.mutations,
        OutboxPushQueue(hub.hub.store.mutations),
        AsgiProviderClient({"hooks.test:8443": webhook}),
        hub.hub.keys,
        hub.hub.store.audit,
        FixedClock(1_800_000_000.0),
        max_attempts=3,
        retry_base_seconds=10,
        retry_max_seconds=60,
        batch=100,
        check_address=hub.hub.mutations.check_push,
    )
    await publish(hub, move("w-1", hub.held_by("welfare")[0]))
    assert await push.deliver_due() == 1 and len(webhook.received) == 1
    answer = await hub.http.put(
        f"/admin/institutions/{WELFARE.number}",
        headers=OPERATOR,
        json={"name": WELFARE.name, "webhook_bases": []},
    )
    assert answer.status_code == 200, answer.text
    await publish(hub, move("w-2", hub.held_by("welfare")[0]))
    assert await push.deliver_due() == 0 and len(webhook.received) == 1
    [failed] = [r for r in await audit_records(hub) if r.action == "mutation.push_failed"]
    assert failed.outcome == "webhook_not_allowed" and failed.target == "w-2"


# IPv6 addresses that carry an IPv4 one a gateway or the host forwards to: NAT64 (the well-known
# 64:ff9b::/96, as AWS and DNS64 networks use, and the local-use 64:ff9b:1::/48), 6to4
# (2002::/16), IPv4-compatible (::/96), and the IPv4-translated form (::ffff:0:0/96).
CARRIED = [
    "64:ff9b::a9fe:a9fe",  # 169.254.169.254, the metadata service
    "64:ff9b::a00:5",  # 10.0.0.5
    "64:ff9b::7f00:1",  # 127.0.0.1
    "64:ff9b:1::c0a8:105",  # 192.168.1.5, local-use NAT64
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "2002:a00:5::",  # 6to4 of 10.0.0.5
    "::127.0.0.1",  # IPv4-compatible
    "::ffff:0:a9fe:a9fe",  # IPv4-translated
]


@pytest.mark.parametrize("address", CARRIED)
def test_an_ipv6_address_carrying_an_internal_ipv4_one_is_internal(address):
    from crossroads.domain.webhooks import check_webhook_url, is_internal_address

    assert is_internal_address(address)  # what the webhook client's resolver drops
    url = f"http://[{address}]/hooks"
    with pytest.raises(Refusal) as caught:
        check_webhook_url(url, (f"http://[{address}]/",), "https://hub.example", False)
    assert caught.value.code == "webhook_not_allowed"


def test_an_ipv6_address_carrying_a_public_ipv4_one_is_public():
    from crossroads.domain.webhooks import is_internal_address

    assert not is_internal_address("64:ff9b::808:808")  # 8.8.8.8 through NAT64
    assert not is_internal_address("2002:808:808::1")
    assert not is_internal_address("2a00:1450:4001:80e::200e")
