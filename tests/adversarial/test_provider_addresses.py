"""A caller never learns where a provider lives: every way the hub's real HTTP client can fail to
get an answer (refused connection, unknown name, timeout, failed TLS, bad status) is answered
without the provider's host, address or port; the operator's log has them."""

from __future__ import annotations

import asyncio
import logging
import ssl

import pytest
import trustme

from crossroads.bootstrap import bootstrap
from crossroads.demo import country
from crossroads.demo.launch import free_port_block
from crossroads.demo.seed import seed
from crossroads.domain.registry import Institution
from crossroads.entrypoints.api.app import create_app
from tests.conftest import PROVIDER_HOST, DemoHub, make_settings
from tests.support import AppTransport

pytestmark = pytest.mark.anyio

NR = country.BY_KEY["nr"]


@pytest.fixture
async def hub_with_real_client(tmp_path):
    """A demo hub whose providers are reached by its own aiohttp client over real sockets."""
    ca = trustme.CA()
    ca_file = tmp_path / "internal-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    settings = make_settings(
        tmp_path, provider_connect_timeout=1, provider_read_timeout=0.5, provider_ca_file=ca_file
    )
    hub = await bootstrap(settings, None, None, {"transport": AppTransport()}, create_keys=True)
    seeded = await seed(hub, 20, PROVIDER_HOST, 9000)
    demo = DemoHub(create_app(settings, hub=hub), hub, seeded, settings)
    yield demo
    await demo.http.aclose()
    await hub.close()


async def misbehaving_server(kind: str) -> asyncio.base_events.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if kind == "silent":
                await asyncio.sleep(5)
            elif kind == "bad-status":
                await reader.readuntil(b"\r\n\r\n")
                body = (
                    b'{"error": "backend 10.20.30.40:5432 is down", "see": "http://10.20.30.40/"}'
                )
                writer.write(
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                )
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    context = None
    if kind == "untrusted-tls":  # a certificate from another CA than the one the hub trusts
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        trustme.CA().issue_cert("127.0.0.1").configure_cert(context)
    return await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)


@pytest.mark.parametrize(
    "kind, code",
    [
        ("refused", "provider_unavailable"),
        ("dns", "provider_unavailable"),
        ("silent", "provider_timeout"),
        ("untrusted-tls", "provider_unavailable"),
        ("bad-status", "provider_error"),
    ],
)
async def test_no_error_reveals_the_providers_address(hub_with_real_client, caplog, kind, code):
    demo = hub_with_real_client
    server = None
    if kind == "refused":
        host, port, scheme = "127.0.0.1", free_port_block(1), "http"
    elif kind == "dns":
        host, port, scheme = "register-backend.internal.invalid", 8443, "https"
    else:
        server = await misbehaving_server(kind)
        host, port = "127.0.0.1", server.sockets[0].getsockname()[1]
        scheme = "https" if kind == "untrusted-tls" else "http"
    address = f"{scheme}://{host}:{port}/national-register"
    await demo.hub.registry.put_institution(Institution(NR.number, NR.name, "GOV", address))
    token = await demo.token(demo.welfare)
    try:
        with caplog.at_level(logging.WARNING, logger="crossroads.providers"):
            answer = await demo.http.post(
                "/v1/exchange/person.identity",
                headers={"Authorization": f"Bearer {token}"},
                json={"subject": demo.held_by("welfare")[0], "purpose": "SOCIAL_INTEGRATION"},
            )
    finally:
        if server is not None:
            server.close()
    assert answer.json()["code"] == code, answer.text
    for secret in (host, str(port), "10.20.30.40", "national-register", "internal"):
        assert secret not in answer.text, (secret, answer.text)
        assert secret not in str(answer.headers), (secret, answer.headers)
    if code != "provider_error":  # the operator can still tell where it failed
        assert any(f"{host}:{port}" in record.getMessage() for record in caplog.records), (
            caplog.text
        )
