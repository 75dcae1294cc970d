"""Rights engine benchmark: the population scan, re-evaluation after a mutation, simulations.

    crossroads bench rights [--persons N] [--demo-persons D] [--samples S] [--json]

1. `scan_seconds`: the three rules decided for N persons (default 1,000,000) in households of one
   to five, in one vectorised OpenFisca calculation, then the non-take-up selection (eligible and
   not receiving) against a random "receives" column. Building the input arrays is not timed.
2. `trigger_p99_ms`: a demo hub of D persons (SQLite; the demo's sources in the hub's process,
   through httpx's ASGI transport, so no socket; `--providers process`: in a process of their
   own, asked over HTTP by the hub's own provider client, as in the demo), its rights engine
   reading its mailbox in its own loop as the hub runs it (`RightsTriggers.run`, polling every
   `CROSSROADS_RIGHTS_POLL_SECONDS`) — for S persons one after the other, the benefits register
   publishes a `benefit.change` about them. The figure is the time from the mutation's receipt
   (the register's publication begins: its audit record and outbox are part of it) to the
   engine's decision stored and announced (the `right.granted` / `right.ended` mutation
   committed) or, when no right changes, to the end of the re-evaluation: the message read, the
   five exchanges of the person's facts (each authorized, directory-checked and audited), the
   rules. `trigger_after_acceptance_p99_ms`: the same from the publication's answer to the
   register. The acknowledgement comes after; the next mutation is published once it is done.
3. `simulation_p95_ms`: a signed-in person's simulation (their facts read through the hub, then
   the rules on the changed situation); `anonymous_simulation_p95_ms`: one from a typed
   situation (the rules alone).
4. with `--bells N`: `bell_sqlite_p50_ms` / `bell_sqlite_p99_ms` (and `bell_postgres_…` given
   `--bells-postgres DSN`), the wake across processes: N bells rung here and heard by a listener
   in another process (bench/bells.py). Only these are measured then.
`errors` counts triggers and simulations that raised.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import httpx
import numpy
from bells import bell_figures  # bench/bells.py, beside this script
from report import print_figures  # bench/report.py, beside this script

from crossroads.adapters.keys import HubKeys
from crossroads.adapters.openfisca_country.rules import OpenFiscaRules
from crossroads.config import Settings
from crossroads.demo import country
from crossroads.demo.launch import free_port_block, wait_providers
from crossroads.demo.seed import seed
from crossroads.demo.sources import provider_apps
from crossroads.demo.wiring import bootstrap_demo
from crossroads.domain.callers import Caller
from crossroads.providerkit import HubKeySet
from crossroads.services.ports import Extract, Population, ProviderClient, ProviderReply
from crossroads.services.rights_nontakeup import missing

HOST, PORT_BASE = "providers.bench", 9000
CLI = [sys.executable, "-m", "crossroads.entrypoints.cli"]


class InProcessProviders(ProviderClient):
    """The demo's provider apps, reached through httpx's ASGI transport (no socket)."""

    def __init__(self, apps: dict[str, object]) -> None:
        self._clients = {
            netloc: httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url=f"http://{netloc}"
            )
            for netloc, app in apps.items()
        }

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> ProviderReply:
        response = await self._clients[url.split("/")[2]].post(url, content=body, headers=headers)
        return ProviderReply(
            response.status_code, response.content, response.headers.get("content-type", "")
        )

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()


def population(persons: int, seed: int = 1) -> Extract:
    rng = numpy.random.default_rng(seed)
    sizes = rng.integers(1, 6, persons)
    household = numpy.repeat(numpy.arange(persons), sizes)[:persons]
    count = int(household[-1]) + 1
    first = numpy.concatenate(([True], household[1:] != household[:-1]))
    flags = rng.random((persons, 3)) < numpy.array([0.05, 0.02, 0.04])
    receives = {
        code: rng.random(persons) < 0.5
        for code in ("increased-reimbursement", "social-energy-tariff", "child-social-supplement")
    }
    return Extract(
        [f"p{i}" for i in range(persons)],
        Population(
            household=household,
            child=~first & (rng.random(persons) < 0.5),
            integration_income=flags[:, 0],
            income_guarantee_elderly=flags[:, 1],
            disability_allowance=flags[:, 2],
            household_income=rng.uniform(0, 90_000, count),
        ),
        receives,
    )


def scan(persons: int) -> float:
    extract = population(persons)
    rules = OpenFiscaRules()
    started = time.perf_counter()
    missing(rules, extract, date(2026, 3, 1))
    return time.perf_counter() - started


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def start_sources(folder: Path) -> tuple[int, subprocess.Popen]:
    """The demo's sources in a process of their own, trusting the hub's keys made in `folder`."""
    keys = HubKeys.load_or_create(folder / "keys")
    (folder / "hub-jwks.json").write_text(json.dumps(keys.jwks()))
    port_base = free_port_block(8)
    process = subprocess.Popen(
        [*CLI, "providers", "--jwks", str(folder / "hub-jwks.json"), "--port-base", str(port_base)],
        env={**os.environ, "CROSSROADS_LOG_LEVEL": "warning"},
    )
    wait_providers(port_base, process)
    return port_base, process


async def hub_figures(folder: Path, demo_persons: int, samples: int, port_base: int | None) -> dict:
    """`port_base`: where the sources' process listens; None: the sources in this process."""
    settings = Settings(
        data_dir=folder,
        store_url=f"sqlite:///{folder / 'hub.sqlite3'}",
        issuer="http://hub.bench",
        admin_token="operator-secret-for-the-bench",
        declarations_source=country.BY_KEY["nsso"].number,
        allow_internal_webhooks=True,  # the sources' receivers listen on 127.0.0.1
    )
    keys = HubKeys.load_or_create(folder / "keys")
    providers: ProviderClient | None = None  # the hub's own HTTP client
    host = "127.0.0.1"
    if port_base is None:
        host, port_base = HOST, PORT_BASE
        apps = provider_apps(HubKeySet(keys.jwks()), host, port_base)
        providers = InProcessProviders({f"{host}:{port}": app for port, app in apps.values()})
    hub = await bootstrap_demo(settings, None, providers)
    errors = 0
    try:
        subjects = (await seed(hub, demo_persons, host, port_base))["subjects"]
        register = Caller(country.BY_KEY["benefits"].number, "register-app")
        triggers, after_acceptance, personal, anonymous = [], [], [], []
        engine, loop = hub.rights, hub.rights_triggers
        assert engine is not None and loop is not None
        evaluated: asyncio.Queue[float] = asyncio.Queue()
        evaluate = engine.evaluate

        failed = 0

        async def timed(subject: str, origin: str = "change") -> list:
            nonlocal failed
            try:
                return await evaluate(subject, origin)
            except Exception:  # counted; the loop logs it and goes on, as in the hub
                failed += 1
                raise
            finally:
                evaluated.put_nowait(time.perf_counter())

        engine.evaluate = timed  # type: ignore[method-assign]  (the clock stops as it returns)
        stop = asyncio.Event()
        reading = asyncio.create_task(loop.run(stop, lambda: True, settings.rights_poll_seconds))
        try:
            for n, subject in enumerate(subjects[:samples]):
                received = time.perf_counter()
                try:
                    await hub.mutations.publish(
                        register,
                        "benefit.change",
                        {
                            "id": f"bench-{n}",
                            "subject": subject,
                            "effective_date": "2026-01-01",
                            "payload": {
                                "benefit": "integration_income",
                                "event": "start",
                                "date": "2026-01-01",
                            },
                        },
                    )
                    published_at = time.perf_counter()
                    decided = await asyncio.wait_for(evaluated.get(), 30)
                    triggers.append((decided - received) * 1000)
                    after_acceptance.append((decided - published_at) * 1000)
                    while await hub.mutations.mailbox(engine.reader.caller, 0, 1):  # noqa: ASYNC110
                        await asyncio.sleep(0.001)  # acknowledged: the next one starts afresh
                except Exception:
                    errors += 1
            errors += loop.failures + failed
        finally:
            stop.set()
            await reading
        for n, subject in enumerate(subjects[:samples]):
            started = time.perf_counter()
            try:
                await hub.rights_simulation.of_person(subject, {"household_income": 1000.0 * n})
            except Exception:
                errors += 1
            personal.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            await hub.rights_simulation.anonymous(
                {"adults": 2, "children": n % 4, "household_income": n}
            )
            anonymous.append((time.perf_counter() - started) * 1000)
        return {
            "trigger_p99_ms": round(percentile(triggers, 0.99), 2) if triggers else None,
            "trigger_p50_ms": round(float(numpy.median(triggers)), 2) if triggers else None,
            "trigger_after_acceptance_p99_ms": round(percentile(after_acceptance, 0.99), 2)
            if after_acceptance
            else None,
            "simulation_p95_ms": round(percentile(personal, 0.95), 2),
            "anonymous_simulation_p95_ms": round(percentile(anonymous, 0.95), 2),
            "errors": errors,
        }
    finally:
        await hub.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--demo-persons", type=int, default=2_000)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument(
        "--providers",
        choices=("process", "in-process"),
        default="in-process",
        help="the demo's sources in the hub's process (default) or in a process of their own",
    )
    parser.add_argument("--bells", type=int, default=0, help="only the wake across processes")
    parser.add_argument("--bells-postgres", metavar="DSN", help="… on PostgreSQL too")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.bells:
        print_figures(bell_figures(args.bells, args.bells_postgres), args.json)
        return
    figures = {"persons": args.persons, "scan_seconds": round(scan(args.persons), 3)}
    folder = Path(tempfile.mkdtemp(prefix="crossroads-bench-rights-"))
    sources = None if args.providers == "in-process" else start_sources(folder)
    try:
        port_base = None if sources is None else sources[0]
        figures.update(asyncio.run(hub_figures(folder, args.demo_persons, args.samples, port_base)))
    finally:
        if sources is not None:
            sources[1].terminate()
            sources[1].wait()
        shutil.rmtree(folder, ignore_errors=True)  # its store, keys and secrets
    print_figures(figures, args.json)


if __name__ == "__main__":
    main()
