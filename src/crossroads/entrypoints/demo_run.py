"""`crossroads demo`: seed the synthetic country, start its sources (own process) and the hub."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import uvicorn
from rich.console import Console

from ..adapters.keys import HubKeys
from ..bootstrap import settings_for_data_dir
from ..demo import country, employers
from ..demo.launch import wait_ready
from ..demo.seed import example_subject, seed
from ..demo.publisher import DemoPublisher
from ..demo.sources import provider_apps
from ..demo.wiring import bootstrap_demo, create_demo_app
from ..providerkit import HubKeySet
from .bounded_http import BoundedHttpToolsProtocol
from .logs import configure

console = Console(stderr=True)


def run_demo(persons: int, port: int, provider_port_base: int, data_dir: Path, seed_only: bool,
             store_url: str | None = None, publish_every: float = 1.0) -> None:
    log_config = configure("warning")
    # The demo's institutions listen on 127.0.0.1, so their webhooks are internal addresses.
    settings = settings_for_data_dir(data_dir, port=port, issuer=f"http://127.0.0.1:{port}", demo=True,
                                     allow_internal_webhooks=True,
                                     declarations_source=country.BY_KEY["nsso"].number,
                                     **({"store_url": store_url} if store_url else {}))
    keys = HubKeys.load_or_create(settings.data_dir / "keys")
    jwks_file = data_dir / "hub-jwks.json"
    jwks_file.write_text(json.dumps(keys.jwks()))
    asyncio.run(_seed_and_tell(settings, persons, provider_port_base))
    if seed_only:
        return
    sources = subprocess.Popen([sys.executable, "-m", "crossroads.entrypoints.cli", "providers",
                                "--jwks", str(jwks_file), "--port-base", str(provider_port_base),
                                "--publish-every", str(publish_every), "--hub", settings.issuer,
                                "--data-dir", str(data_dir), "--persons", str(persons)])
    try:
        wait_ready(f"http://127.0.0.1:{provider_port_base + 1}/", sources, timeout=20)
        BoundedHttpToolsProtocol.configure(settings)
        uvicorn.run(create_demo_app(settings), host="127.0.0.1", port=port, log_config=log_config,
                    access_log=False,
                    http=BoundedHttpToolsProtocol)
    finally:
        sources.terminate()
        sources.wait(10)


async def _seed_and_tell(settings, persons: int, provider_port_base: int) -> None:
    hub = await bootstrap_demo(settings)
    try:
        started = time.perf_counter()
        with console.status(f"seeding a country of {persons:,} persons…"):
            seeded = await seed(hub, persons, "127.0.0.1", provider_port_base)
        console.print(f"[green]seeded[/green] {len(seeded['subjects']):,} persons, {seeded['entries']:,} directory "
                      f"entries, {len(seeded['clients'])} applications in {time.perf_counter() - started:.1f} s")
        _tour(settings, seeded)
    finally:
        await hub.close()


def _tour(settings, seeded: dict) -> None:
    hub = settings.issuer
    welfare_client = next(c for c in seeded["clients"] if c.startswith(country.BY_KEY["welfare"].number))
    subject = example_subject(seeded["subjects"])
    welfare = country.BY_KEY["welfare"].number
    held = {line["subject"] for line in country.directory_lines(seeded["subjects"]) if line["institution"] == welfare}
    stranger = next(s for s in seeded["subjects"] if s not in held)
    data_dir = settings.data_dir
    payroll_client = f"{country.BY_KEY['payroll'].number}:payroll-app"
    employed = {s for s, *_ in employers.employed(seeded["subjects"])}
    worker = next(s for s in seeded["subjects"] if s not in employed and not country.is_child(s))
    dimona_example = json.dumps(employers.dimona_in(worker, employers.EMPLOYERS[0][0], date.today(), "OTH"))
    console.print(f"""
[bold]Crossroads demo hub[/bold] on {hub}  (API docs: {hub}/docs)
Operator token for the admin API: {data_dir}/secrets.json

Ask, as the welfare centre's application, about a person it holds:
  crossroads ask person.identity {subject} --purpose SOCIAL_INTEGRATION --client {welfare_client} --data-dir {data_dir}
  crossroads ask health.affiliation {subject} --purpose SOCIAL_INTEGRATION --client {welfare_client} --data-dir {data_dir}
  crossroads ask directory.holders {subject} --purpose SOCIAL_INTEGRATION --client {welfare_client} --data-dir {data_dir}

Or with curl:
  TOKEN=$(crossroads token --client {welfare_client} --data-dir {data_dir})
  curl -s {hub}/v1/exchange/person.identity -H "Authorization: Bearer $TOKEN" \\
       -H 'Content-Type: application/json' -d '{{"subject": "{subject}", "purpose": "SOCIAL_INTEGRATION"}}'

A refusal, with its code: ask about someone the centre does not hold:
  crossroads ask person.identity {stranger} --purpose SOCIAL_INTEGRATION --client {welfare_client} --data-dir {data_dir}

The registers publish a mutation (a move, a job, a birth, a death) every second or so. The welfare
centre reads its mailbox; the employment office and the child benefit fund have theirs pushed:
  crossroads mailbox --client {welfare_client} --data-dir {data_dir} --ack --follow

The payroll office declares an employment (DIMONA IN, JSON form of the official XML); the answer's
Location gives its status (A, W or B) and anomalies (docs/declarations.md):
  TOKEN=$(crossroads token --client {payroll_client} --data-dir {data_dir})
  curl -si {hub}/v1/declarations/dimona -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
       -d '{dimona_example}'

The citizen's view: who consulted my data, each entry with its proof in the signed audit log.
  Open {hub}/citizen/ and sign in as {subject} at the development identity provider (demo only).
""", soft_wrap=True, highlight=False)


def serve_demo_providers(jwks: Path, host: str, port_base: int, publish_every: float, hub: str,
                         data_dir: Path, persons: int) -> None:
    """`crossroads providers`: the demo's sources; with `publish_every`, its registers publish
    to `hub`."""
    publisher = None
    if publish_every > 0:
        publisher = DemoPublisher(hub, data_dir, country.persons(persons), publish_every)
    serve_providers(jwks, host, port_base, publisher)


def serve_providers(jwks: Path, host: str, port_base: int, publisher: DemoPublisher | None = None) -> None:
    """Every simulated authentic source of the demo, each on its own port, in one event loop; with
    a `publisher`, the registers also publish mutations to the hub."""
    log_config = configure("warning")
    keys = HubKeySet(json.loads(jwks.read_text()))
    apps = provider_apps(keys, host, port_base)

    async def run() -> None:
        servers = [uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_config=log_config, access_log=False))
                   for port, app in apps.values()]
        await asyncio.gather(*(s.serve() for s in servers), *([publisher.run()] if publisher else []))

    asyncio.run(run())
