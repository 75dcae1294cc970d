"""The hub's outbound TLS settings against real TLS servers on loopback, with a certificate
authority made for the test (trustme): providers (http1_client) and webhooks (aiohttp),
witnesses (httpx) and NATS (a nats-server started with TLS, client verification and a token)."""

from __future__ import annotations

import asyncio
import select
import shutil
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest
import trustme
from aiohttp import web

from crossroads.adapters.head_targets import WitnessTarget
from crossroads.adapters.http1_client import Http1ProviderClient
from crossroads.adapters.jetstream import JetStreamPushQueue
from crossroads.adapters.provider_client import AiohttpProviderClient
from crossroads.adapters.sql.store import open_store
from crossroads.bootstrap import head_targets, nats_options
from crossroads.config import Settings
from crossroads.demo.launch import free_port_block
from crossroads.domain.errors import Refusal
from crossroads.domain.merkle import TreeHead

pytestmark = pytest.mark.anyio
# Each peer's client, as bootstrap.py builds them.
CLIENT = {"provider": Http1ProviderClient, "webhook": AiohttpProviderClient}


class Pki:
    """A CA, the server's certificate (for 127.0.0.1 and localhost) and a client certificate,
    written as PEM files the settings name."""

    def __init__(self, folder: Path) -> None:
        self.ca = trustme.CA()
        self.server = self.ca.issue_cert("127.0.0.1", "localhost")
        self.client = self.ca.issue_cert("hub.crossroads.test")
        self.ca_file = folder / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self.server_cert, self.server_key = folder / "server.pem", folder / "server.key"
        self.server.cert_chain_pems[0].write_to_path(str(self.server_cert))
        self.server.private_key_pem.write_to_path(str(self.server_key))
        self.client_cert, self.client_key = folder / "client.pem", folder / "client.key"
        self.client.cert_chain_pems[0].write_to_path(str(self.client_cert))
        self.client.private_key_pem.write_to_path(str(self.client_key))

    def server_context(self, verify_clients: bool) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.server.configure_cert(context)
        if verify_clients:
            self.ca.configure_trust(context)
            context.verify_mode = ssl.CERT_REQUIRED
        return context

    def settings(self, peer: str, with_client_cert: bool = True, **more) -> Settings:
        files = {f"{peer}_ca_file": self.ca_file}
        if with_client_cert:
            files |= {
                f"{peer}_client_cert_file": self.client_cert,
                f"{peer}_client_key_file": self.client_key,
            }
        return Settings(**files, **more)


@pytest.fixture
def pki(tmp_path):
    return Pki(tmp_path)


async def tls_server(app: web.Application, context: ssl.SSLContext) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"https://127.0.0.1:{port}"


def echo_peer() -> web.Application:
    async def answer(request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        return web.json_response(
            {"client": [name for _, name in (peer or {}).get("subjectAltName", ())]}
        )

    app = web.Application()
    app.router.add_post("/services/x/1", answer)
    return app


@pytest.mark.parametrize("peer", ["provider", "webhook"])
async def test_providers_and_webhooks_trust_the_ca_given_and_show_the_client_certificate(pki, peer):
    runner, base = await tls_server(echo_peer(), pki.server_context(verify_clients=True))
    settings = pki.settings(peer, allow_internal_webhooks=True)
    client = CLIENT[peer](1, 2, 4, tls=settings.outbound_tls(peer).context())
    try:
        reply = await client.post(f"{base}/services/x/1", b"{}", {})
        assert reply.status == 200 and b"hub.crossroads.test" in reply.body
    finally:
        await client.close()
        await runner.cleanup()


@pytest.mark.parametrize("peer", ["provider", "webhook"])
async def test_a_peer_without_the_client_certificate_or_the_ca_is_unavailable_and_unnamed(
    pki, peer
):
    runner, base = await tls_server(echo_peer(), pki.server_context(verify_clients=True))
    settings = pki.settings(peer, with_client_cert=False, allow_internal_webhooks=True)
    clients = [
        CLIENT[peer](1, 2, 4, tls=settings.outbound_tls(peer).context()),
        CLIENT[peer](1, 2, 4),
    ]  # the system's trust store does not know the test CA
    try:
        for client in clients:
            with pytest.raises(Refusal) as refused:
                await client.post(f"{base}/services/x/1", b"{}", {})
            assert refused.value.code == "provider_unavailable"
            assert (
                "127.0.0.1" not in refused.value.message
                and base.split(":")[-1] not in refused.value.message
            )
    finally:
        for client in clients:
            await client.close()
        await runner.cleanup()


@pytest.mark.parametrize("peer", ["provider", "webhook"])
async def test_a_certificate_for_another_name_is_refused(pki, peer):
    """The bundle's CA signed it, but for another host than the one called."""
    elsewhere = pki.ca.issue_cert("other.crossroads.test")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    elsewhere.configure_cert(context)
    runner, base = await tls_server(echo_peer(), context)
    settings = pki.settings(peer, with_client_cert=False, allow_internal_webhooks=True)
    client = CLIENT[peer](1, 2, 4, tls=settings.outbound_tls(peer).context())
    try:
        with pytest.raises(Refusal) as refused:
            await client.post(f"{base}/services/x/1", b"{}", {})
        assert refused.value.code == "provider_unavailable"
        assert "TLS failed" in refused.value.message
    finally:
        await client.close()
        await runner.cleanup()


@pytest.mark.parametrize("peer", ["provider", "webhook"])
async def test_a_ca_bundle_replaces_the_system_trust_store(pki, tmp_path, monkeypatch, peer):
    """A provider whose certificate a CA of the system's store vouches for, but not the bundle,
    is refused: the bundle is the only trust for providers (docs/configuration.md). A client
    that adds the bundle to the system's store (pyreqwest could only do that) fails here."""
    system = trustme.CA()
    system_file = tmp_path / "system-store.pem"
    system.cert_pem.write_to_path(str(system_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(system_file))  # what OpenSSL reads as the store
    server = system.issue_cert("127.0.0.1")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.configure_cert(context)
    runner, base = await tls_server(echo_peer(), context)
    # aiohttp's own default context was made at its import, before the store was set here.
    with_store = CLIENT[peer](1, 2, 4, tls=ssl.create_default_context())
    settings = pki.settings(peer, with_client_cert=False, allow_internal_webhooks=True)
    with_bundle = CLIENT[peer](1, 2, 4, tls=settings.outbound_tls(peer).context())
    try:
        assert (await with_store.post(f"{base}/services/x/1", b"{}", {})).status == 200
        with pytest.raises(Refusal) as refused:
            await with_bundle.post(f"{base}/services/x/1", b"{}", {})
        assert refused.value.code == "provider_unavailable"
    finally:
        await with_store.close()
        await with_bundle.close()
        await runner.cleanup()


async def test_witnesses_are_reached_with_the_witness_tls_settings(pki):
    head = TreeHead(5, b"\x01" * 32, 1_700_000_000_000, "sig")
    seen = []

    async def latest(request: web.Request) -> web.Response:
        return web.json_response({"code": "not_found"}, status=404)

    async def countersign(request: web.Request) -> web.Response:
        transport = request.transport
        seen.append(transport is not None and transport.get_extra_info("peercert") is not None)
        body = await request.json()
        return web.json_response({**body["head"], "cosignature": "cosigned"})

    app = web.Application()
    app.router.add_get("/witness/v1/tree-heads/latest", latest)
    app.router.add_post("/witness/v1/tree-heads", countersign)
    runner, base = await tls_server(app, pki.server_context(verify_clients=True))
    [target] = head_targets(pki.settings("witness", witness_urls=[base]))
    [untrusting] = head_targets(Settings(witness_urls=[base]))
    try:
        assert await target.publish(head, None) == "cosigned"  # type: ignore[arg-type]
        assert seen == [True]
        with pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED"):
            await untrusting.publish(head, None)  # type: ignore[arg-type]
    finally:
        for each in (target, untrusting):
            assert isinstance(each, WitnessTarget)
            await each.close()
        await runner.cleanup()


def wait_for_port(port: int, process: subprocess.Popen, deadline_seconds: float = 15) -> None:
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, (
            process.stderr.read() if process.stderr else "nats-server exited"
        )
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nats-server did not listen on {port} in time")


@pytest.fixture
def nats_with_tls(pki, tmp_path):
    """A JetStream nats-server that requires TLS, a client certificate from the test CA, and a
    token."""
    binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
    port = free_port_block(1)
    config = tmp_path / "nats.conf"
    config.write_text(f"""
host: 127.0.0.1
port: {port}
jetstream {{ store_dir: "{tmp_path / "js"}" }}
tls {{
  cert_file: "{pki.server_cert}", key_file: "{pki.server_key}", ca_file: "{pki.ca_file}"
  verify: true, timeout: 2
}}
authorization {{ token: "nats-token-for-tests" }}
""")
    process = subprocess.Popen(
        [binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for_port(port, process)
        yield f"tls://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


async def test_nats_is_reached_with_its_ca_client_certificate_and_token_from_a_file(
    pki, nats_with_tls, tmp_path, monkeypatch
):
    token_file = tmp_path / "nats-token"
    token_file.write_text("nats-token-for-tests\n")
    monkeypatch.setenv("CROSSROADS_NATS_TOKEN_FILE", str(token_file))
    settings = pki.settings(
        "nats",
        nats_url=nats_with_tls,
        mutation_backend="nats",
        store_url=f"sqlite:///{tmp_path / 'hub.sqlite3'}",
    )
    store = await open_store(settings.store_url)
    try:
        queue = await JetStreamPushQueue.connect(
            settings.nats_url,
            store.mutations,
            "TLS_TEST",
            timeout=5,
            connect_options=nats_options(settings),
            batch=10,
            poll_seconds=0.1,
            ack_wait_seconds=5,
        )
        assert (await queue._js.stream_info("TLS_TEST")).config.name == "TLS_TEST"
        await queue.close()
        monkeypatch.setenv("CROSSROADS_NATS_TOKEN_FILE", str(pki.ca_file))  # not the token
        wrong = pki.settings("nats", nats_url=nats_with_tls)
        # The server refuses the handshake; the client retries until its connect timeout.
        with pytest.raises(TimeoutError):
            await JetStreamPushQueue.connect(
                wrong.nats_url,
                store.mutations,
                "TLS_TEST",
                timeout=3,
                connect_options=nats_options(wrong),
                batch=10,
                poll_seconds=0.1,
                ack_wait_seconds=5,
            )
        monkeypatch.delenv("CROSSROADS_NATS_TOKEN_FILE")
        no_cert = pki.settings(
            "nats",
            with_client_cert=False,
            nats_url=nats_with_tls,
            nats_token="nats-token-for-tests",
        )
        # The server refuses the handshake; the client retries until its connect timeout.
        with pytest.raises(TimeoutError):
            await JetStreamPushQueue.connect(
                no_cert.nats_url,
                store.mutations,
                "TLS_TEST",
                timeout=3,
                connect_options=nats_options(no_cert),
                batch=10,
                poll_seconds=0.1,
                ack_wait_seconds=5,
            )
    finally:
        await store.close()


@pytest.mark.parametrize("peer", ["provider", "webhook", "witness", "nats"])
def test_unusable_tls_files_stop_the_settings_naming_the_variable(pki, peer, tmp_path):
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello")
    prefix = f"CROSSROADS_{peer.upper()}"
    for given, named in (
        ({f"{peer}_ca_file": tmp_path / "missing.pem"}, f"{prefix}_CA_FILE"),
        ({f"{peer}_ca_file": not_pem}, f"{prefix}_CA_FILE"),
        ({f"{peer}_client_cert_file": not_pem}, f"{prefix}_CLIENT_CERT_FILE"),
        ({f"{peer}_client_key_file": pki.client_key}, f"{prefix}_CLIENT_KEY_FILE"),
        (
            {
                f"{peer}_client_cert_file": pki.client_cert,
                f"{peer}_client_key_file": pki.server_key,
            },
            f"{prefix}_CLIENT_CERT_FILE",
        ),
    ):
        with pytest.raises(ValueError, match=named):
            Settings(**given)


class MuteTlsPeer:
    """A TLS server that takes one request and then never speaks again, nor reads: it never
    answers, and never confirms a TLS close (close_notify). Records how long after `give_up` the
    caller's end of the TCP connection went (a FIN or a reset)."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._context = context
        self.port = self._listener.getsockname()[1]
        self.asked = threading.Event()
        self.gone_after: float | None = None
        self.given_up_at: float | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        raw, _ = self._listener.accept()
        with self._context.wrap_socket(raw, server_side=True) as tls:
            data = b""
            while b"\r\n\r\n" not in data:
                data += tls.recv(65536)
            self.asked.set()
            # Not reading again: a close_notify sent now stays unanswered. Poll the TCP socket
            # itself for the caller's end.
            watch = select.poll()
            watch.register(tls.fileno(), select.POLLRDHUP | select.POLLHUP | select.POLLERR)
            if watch.poll(40_000) and self.given_up_at is not None:
                self.gone_after = time.monotonic() - self.given_up_at

    def close(self) -> None:
        self._listener.close()
        self._thread.join(45)


@pytest.mark.parametrize("peer", ["provider", "webhook"])
async def test_a_call_given_up_drops_its_tls_connection_at_once(pki, peer):
    """A call that timed out leaves its TLS connection at once (aborted), not after waiting for
    the peer to confirm the close: a peer that never confirms would otherwise keep the
    connection, and a file descriptor, open outside the pool's count (asyncio waits 30 s)."""
    mute = MuteTlsPeer(pki.server_context(verify_clients=False))
    settings = pki.settings(peer, allow_internal_webhooks=True)
    client = CLIENT[peer](1, 0.3, 4, tls=settings.outbound_tls(peer).context())
    try:
        with pytest.raises(Refusal) as refused:
            await client.post(f"https://127.0.0.1:{mute.port}/services/x/1", b"{}", {})
        mute.given_up_at = time.monotonic()
        assert refused.value.code == "provider_timeout" and mute.asked.is_set()
        async with asyncio.timeout(5):
            while mute.gone_after is None:  # noqa: ASYNC110 (the peer's thread sets it)
                await asyncio.sleep(0.02)
        assert mute.gone_after < 1, mute.gone_after
    finally:
        await client.close()
        await asyncio.to_thread(mute.close)
