"""`crossroads demo`: seed the synthetic country, start its sources (own process) and the hub,
and print the tour once the hub answers.

The ports are checked before anything is seeded, so that a busy port is one line naming the flag
to change rather than a tour followed by `address already in use`. SIGTERM is made to stop the
demo as Ctrl-C does (uvicorn re-raises the signal once the hub has stopped, and Python's default
action for SIGTERM would end this process before it stops the sources' process); the sources'
process also stops by itself when this one ends in any other way (`stop_with_parent`).
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import uvicorn
import uvloop

from ....adapters.keys import HubKeys
from ....bootstrap import settings_for_data_dir
from ....demo import country, own_access
from ....demo.estonia import demo_country
from ....demo.launch import busy_port, wait_providers
from ....demo.people import DemoCountry
from ....demo.publisher import DemoPublisher
from ....demo.seed import seed
from ....demo.sources import provider_apps
from ....demo.wiring import bootstrap_demo, create_demo_app
from ....providerkit import HubKeySet
from ...bounded_http import BoundedHttpToolsProtocol
from ...logs import configure
from ...witness import create_witness_app
from ..hub_client import record_hub_address
from ..output import err, fail, out
from .progress import seed_progress
from .second_hub import SECOND_HUB_OFFSET, SecondHub, federate_and_show
from .tour import TourPeople, command_prefix, data_dir_option, seeded, tour

# The demo's witness listens beside the sources, on the provider port base plus this.
WITNESS_OFFSET = 9


def run_demo(
    persons: int,
    port: int,
    provider_port_base: int,
    data_dir: Path,
    seed_only: bool,
    store_url: str | None = None,
    publish_every: float = 1.0,
    second_hub: bool = False,
) -> None:
    if not seed_only:
        _check_ports(port, provider_port_base)
        if second_hub:
            _check_ports(port + SECOND_HUB_OFFSET, port + SECOND_HUB_OFFSET + 100)
    log_config = configure("warning")
    # The demo's institutions listen on 127.0.0.1, so their webhooks are internal addresses.
    common = {
        "port": port,
        "issuer": f"http://127.0.0.1:{port}",
        "demo": True,
        "allow_internal_webhooks": True,
        **({"store_url": store_url} if store_url else {}),
        **({"federation_instance": "A"} if second_hub else {}),
        # A witness in the sources' process countersigns the hub's tree heads (the operator's
        # audit page shows its cosignatures): a demo's, in a process of its own all the same.
        **({} if seed_only else {"witness_urls": [_witness_url(provider_port_base)]}),
    }
    settings = settings_for_data_dir(data_dir, **common)
    land = demo_country(settings.country)
    if not land.declarations_and_rights and not seed_only:
        # The tour and the registers' publisher are written for the Belgian country.
        fail(
            f"the demo's tour is Belgian: a hub of country {land.code} is seeded with "
            "--seed-only (and served with `crossroads serve`), or started as --second-hub",
            2,
        )
    if land.declarations_and_rights:
        settings = settings_for_data_dir(
            data_dir,
            **common,
            declarations_source=country.BY_KEY["nsso"].number,
            own_access_institution=own_access.PORTAL.enterprise_number,
        )
    keys = HubKeys.load_or_create(settings.data_dir / "keys")
    jwks_file = data_dir / "hub-jwks.json"
    jwks_file.write_text(json.dumps(keys.jwks()))
    record_hub_address(data_dir, settings.issuer, settings.federation_instance)
    try:
        subjects = asyncio.run(_seed(settings, persons, provider_port_base))
        if not land.declarations_and_rights:
            out.print(f"seeded the {land.code} country's hub in {data_dir}", highlight=False)
            return
        if seed_only:
            start = f" --persons {persons} --port {port}" + (
                f" --provider-port-base {provider_port_base}"
                if provider_port_base != port + 100
                else ""
            )
            start += data_dir_option(data_dir)
            start += f" --store-url {shlex.quote(store_url)}" if store_url else ""
            text = seeded(data_dir, command_prefix(), start, store_url)
            out.print(text, markup=False, highlight=False)
            return
        text = tour(settings.issuer, data_dir, TourPeople.of(subjects), command_prefix())
        second = None
        if second_hub:
            err.print("seeding and starting the second hub (instance B)…")
            second = SecondHub(data_dir / "second-hub", port + SECOND_HUB_OFFSET, persons)
        try:
            _serve(
                settings,
                jwks_file,
                provider_port_base,
                publish_every,
                persons,
                log_config,
                text,
                (second, TourPeople.of(subjects).subject) if second else None,
            )
        finally:
            if second is not None:
                second.stop()
    except KeyboardInterrupt:
        err.print("the demo stopped")


def _check_ports(port: int, provider_port_base: int) -> None:
    if busy_port([port]) is not None:
        fail(
            f"port {port} is in use (another demo or hub?): "
            "start the demo on another with --port PORT",
            2,
        )
    offsets = sorted(
        {m.port_offset for m in country.MEMBERS if m.port_offset is not None} | {WITNESS_OFFSET}
    )
    taken = busy_port([provider_port_base + offset for offset in offsets])
    if taken is not None:
        fail(
            f"port {taken} is in use, and the demo's authentic sources listen on "
            f"{provider_port_base + offsets[0]}–{provider_port_base + offsets[-1]} (and their "
            f"witness on {provider_port_base + WITNESS_OFFSET}): "
            "choose other ports with --provider-port-base PORT",
            2,
        )


async def _seed(settings, persons: int, provider_port_base: int) -> list[str]:
    hub = await bootstrap_demo(settings)
    try:
        started = time.perf_counter()
        err.print(
            f"seeding a country of {persons:,} persons into {settings.data_dir}", highlight=False
        )
        with seed_progress(err) as progress:
            seeded = await seed(hub, persons, "127.0.0.1", provider_port_base, progress)
        err.print(
            f"[green]seeded[/green] {len(seeded['subjects']):,} persons, "
            f"{seeded['entries']:,} directory entries, {len(seeded['clients'])} applications "
            f"in {time.perf_counter() - started:.1f} s"
        )
        return seeded["subjects"]
    finally:
        await hub.close()


def _serve(
    settings,
    jwks_file: Path,
    provider_port_base: int,
    publish_every: float,
    persons: int,
    log_config: dict,
    text: str,
    second: tuple[SecondHub, str] | None = None,
) -> None:
    """The sources' process, then the hub in this one; the tour once the hub answers /ready
    (and, with a `second` hub, the federation's part once both answer)."""
    err.print("starting the authentic sources and the hub…")
    signal.signal(
        signal.SIGTERM, signal.default_int_handler
    )  # stop as on Ctrl-C: see the docstring
    sources = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crossroads.entrypoints.cli",
            "providers",
            "--jwks",
            str(jwks_file),
            "--port-base",
            str(provider_port_base),
            "--publish-every",
            str(publish_every),
            "--hub",
            settings.issuer,
            "--data-dir",
            str(settings.data_dir),
            "--persons",
            str(persons),
            "--stop-with",
            str(os.getpid()),
            "--witness-port",
            str(provider_port_base + WITNESS_OFFSET),
        ]
    )
    try:
        wait_providers(provider_port_base, sources)
        BoundedHttpToolsProtocol.configure(settings)
        server = uvicorn.Server(
            uvicorn.Config(
                create_demo_app(settings),
                host="127.0.0.1",
                port=settings.port,
                log_config=log_config,
                access_log=False,
                http=BoundedHttpToolsProtocol,
            )
        )
        threading.Thread(
            target=_announce_when_ready,
            args=(server, settings.issuer, text, settings.data_dir, second),
            daemon=True,
        ).start()
        server.run()
    finally:
        sources.terminate()
        try:
            sources.wait(10)
        except subprocess.TimeoutExpired:
            sources.kill()
            sources.wait()


def _witness_url(provider_port_base: int) -> str:
    return f"http://127.0.0.1:{provider_port_base + WITNESS_OFFSET}"


def _announce_when_ready(
    server: uvicorn.Server,
    hub: str,
    text: str,
    data_dir: Path,
    second: tuple[SecondHub, str] | None,
) -> None:
    """Print the tour once the hub answers /ready (the commands in it would fail before); then,
    with a second hub, federate the two and show one exchange and one mutation across."""
    warned_at = time.monotonic() + 30
    while not server.should_exit:
        try:
            if httpx.get(f"{hub}/ready", timeout=2).status_code == 200:
                out.print(text, markup=False, highlight=False)
                if second is not None:
                    _show_federation(hub, data_dir, *second)
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > warned_at:
            err.print(f"the hub does not answer {hub}/ready yet; still waiting", highlight=False)
            warned_at = float("inf")
        time.sleep(0.1)


def _show_federation(hub: str, data_dir: Path, second: SecondHub, subject: str) -> None:
    try:
        second.wait()
        shown = federate_and_show(
            hub, data_dir, second, subject, command_prefix(), data_dir_option(data_dir)
        )
    except Exception as exc:  # the first hub goes on; the second's trouble is one line
        err.print(f"the second hub could not be federated: {exc}", highlight=False)
        return
    out.print(shown, markup=False, highlight=False)


def serve_providers(
    jwks: Path,
    host: str,
    port_base: int,
    publisher: DemoPublisher | None = None,
    hub: str | None = None,
    land: DemoCountry = country.BELGIUM,
    witness: tuple[int, Path] | None = None,
) -> None:
    """Every simulated authentic source of the demo, each on its own port, in one event loop; with
    a `publisher`, the registers also publish mutations to the hub. They start from the JWKS in
    the file `jwks` and, given the `hub`, fetch its JWKS again as a provider does (a rotation).
    With a `witness` (port, folder), a witness of the hub listens there too."""
    log_config = configure("warning")
    url = f"{hub.rstrip('/')}/.well-known/jwks.json" if hub else None
    keys = HubKeySet(json.loads(jwks.read_text()), url=url)
    apps = dict(provider_apps(keys, host, port_base, land))
    if witness is not None:
        port, folder = witness
        apps["witness"] = (
            port,
            create_witness_app(folder, json.loads(jwks.read_text()), hub),
        )

    async def run() -> None:
        servers = [
            uvicorn.Server(
                # No proxy stands before them and they read no client address: uvicorn's
                # X-Forwarded-* middleware would only cost CPU on every request.
                uvicorn.Config(
                    app,
                    host=host,
                    port=port,
                    log_config=log_config,
                    access_log=False,
                    proxy_headers=False,
                )
            )
            for port, app in apps.values()
        ]
        await asyncio.gather(
            *(s.serve() for s in servers), *([publisher.run()] if publisher else [])
        )

    # On uvloop, as `crossroads serve` runs the hub: `Server.serve` runs in whatever loop it is
    # given, and asyncio's own cost the sources' process CPU on every request (docs/benchmarks.md,
    # Portal). Their HTTP protocol is httptools already (uvicorn's "auto").
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(run())


def serve_demo_providers(
    jwks: Path,
    host: str,
    port_base: int,
    publish_every: float,
    hub: str,
    data_dir: Path,
    persons: int,
    land: DemoCountry = country.BELGIUM,
    witness_port: int | None = None,
) -> None:
    """`crossroads providers`: the demo's sources, answering for the persons of `land`; with
    `publish_every`, its registers publish to `hub` (the Belgian country's); with a
    `witness_port`, a witness of `hub` keeping its key and ledger in `data_dir`/witness."""
    publisher = None
    if publish_every > 0:
        publisher = DemoPublisher(hub, data_dir, country.persons(persons), publish_every)
    witness = (witness_port, data_dir / "witness") if witness_port is not None else None
    serve_providers(jwks, host, port_base, publisher, hub, land, witness)
