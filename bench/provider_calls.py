"""The CPU a provider call costs the hub, for each of its two outbound clients, in one run.

    crossroads bench provider_calls [--calls N] [--concurrency C] [--rounds R] [--json]

A provider that costs next to nothing (bench/static_provider.py) answers in its own process; in
this one, C tasks on uvloop post the exchange's kind of request (a JSON body, the hub's signature
header, a request id) N times in all through each client in turn, R rounds alternated, after a
warm-up. The figure is the CPU of this process's thread a call (`time.thread_time`): the client's
Python and its system calls, nothing of the provider's. `http1` is the providers' client
(adapters/http1_client.py), `aiohttp` the webhooks' (adapters/provider_client.py), the one the
providers were called through before (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from pathlib import Path

import uvloop
from report import print_figures  # bench/report.py, beside this script

from crossroads.adapters.http1_client import Http1ProviderClient
from crossroads.adapters.provider_client import AiohttpProviderClient
from crossroads.demo.launch import free_port_block

CLIENTS = {"http1": Http1ProviderClient, "aiohttp": AiohttpProviderClient}
BODY = (
    b'{"request_id":"1b4e28ba-2fa1-11d2-883f-0016d3cca427","service":"person.identity",'
    b'"version":"1","subject":"79122212345","purpose":"SOCIAL_INTEGRATION"}'
)
HEADERS = {
    "Content-Type": "application/json",
    "X-Crossroads-Signature": "e" * 180 + ".." + "s" * 86,
    "X-Request-Id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
}


async def cpu_per_call(kind: str, url: str, calls: int, concurrency: int) -> float:
    """µs of this thread's CPU a call, over `calls` calls made by `concurrency` tasks."""
    client = CLIENTS[kind](2, 5, 200)

    async def calling(count: int) -> None:
        for _ in range(count):
            reply = await client.post(url, BODY, HEADERS)
            if reply.status != 200:
                raise SystemExit(f"the provider answered {reply.status}")

    try:
        await asyncio.gather(*(calling(200) for _ in range(concurrency)))  # warm-up
        started = time.thread_time()
        await asyncio.gather(*(calling(calls // concurrency) for _ in range(concurrency)))
        return (time.thread_time() - started) * 1e6 / (calls // concurrency * concurrency)
    finally:
        await client.close()


async def measure(url: str, calls: int, concurrency: int, rounds: int) -> dict:
    seen: dict[str, list[float]] = {kind: [] for kind in CLIENTS}
    for _ in range(rounds):
        for kind in CLIENTS:
            seen[kind].append(round(await cpu_per_call(kind, url, calls, concurrency), 1))
    result: dict = {"calls": calls, "concurrency": concurrency, "rounds": rounds}
    for kind, values in seen.items():
        result[f"{kind}_cpu_us_per_call"] = values
        result[f"{kind}_cpu_us_per_call_min"] = min(values)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    port = free_port_block(1)
    provider = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("static_provider.py")), str(port)]
    )
    try:
        time.sleep(0.5)
        url = f"http://127.0.0.1:{port}/services/person.identity/1"
        result = uvloop.run(measure(url, args.calls, args.concurrency, args.rounds))
    finally:
        provider.terminate()
        provider.wait(10)
    print_figures(result, args.json)


if __name__ == "__main__":
    main()
