"""The subscribers of the mutation benchmark, in their own process: two webhooks and a mailbox
reader.

    python bench/mutation_consumers.py CONFIG.json

CONFIG names the webhook port and paths, the hub, the mailbox application's client id and key
file, and where to write the results. Each received event is counted per subscriber with its
delay since the hub accepted it (the event's `time`; same machine, same clock). On SIGTERM the
results are written as JSON: per subscriber, the ids received (to find losses and duplicates)
and the delays in milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx
from aiohttp import web

from crossroads.adapters.keys import token_request


def delay_ms(event: dict, now: float) -> float:
    accepted = datetime.fromisoformat(event["time"].replace("Z", "+00:00")).timestamp()
    return (now - accepted) * 1000


class Tally:
    def __init__(self) -> None:
        self.ids: dict[str, list[str]] = {}
        self.delays: dict[str, list[float]] = {}

    def add(self, who: str, events: list[dict]) -> None:
        now = time.time()
        self.ids.setdefault(who, []).extend(e["id"] for e in events)
        self.delays.setdefault(who, []).extend(delay_ms(e, now) for e in events)


async def pull_forever(config: dict, tally: Tally, stop: asyncio.Event) -> None:
    hub, client = config["hub"], config["mailbox_client"]
    key = json.loads(Path(config["mailbox_key"]).read_text())  # noqa: ASYNC240 - once, at start
    async with httpx.AsyncClient(timeout=30) as http:
        metadata = (await http.get(f"{hub}/.well-known/oauth-authorization-server")).json()
        form = token_request(client, metadata["token_endpoint"], key)
        token = (await http.post(f"{hub}/oauth/token", data=form)).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        # The next page is read (after the last seq received) while the last one is being
        # acknowledged, as a subscriber that keeps up would: waiting for each acknowledgement
        # before reading on made the mailbox the slowest subscriber of every run (its p99 was the
        # run's). The hub serves the same reads and acknowledgements either way.
        after, acking = 0, None
        while not stop.is_set():
            answer = (
                await http.get(
                    f"{hub}/v1/mailbox", params={"limit": 1000, "after": after}, headers=headers
                )
            ).json()
            page = answer["messages"]
            if page:
                tally.add("mailbox", [m["event"] for m in page])
                after = answer["next_after"]
                if acking is not None:
                    (await acking).raise_for_status()
                acking = asyncio.create_task(
                    http.post(
                        f"{hub}/v1/mailbox/ack",
                        json={"seqs": [m["seq"] for m in page]},
                        headers=headers,
                    )
                )
            else:
                if acking is not None:
                    (await acking).raise_for_status()
                    acking = None
                await asyncio.sleep(0.05)
        if acking is not None:
            (await acking).raise_for_status()


async def main(config_path: str) -> None:
    # The small files this process reads and writes block the loop for microseconds: plain pathlib.
    config = json.loads(Path(config_path).read_text())  # noqa: ASYNC240
    tally = Tally()
    app = web.Application(client_max_size=64 * 1024 * 1024)
    for path in config["webhook_paths"]:

        async def receive(request: web.Request, who: str = path) -> web.Response:
            tally.add(who, json.loads(await request.read()))
            return web.Response(status=204)

        app.router.add_post(path, receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", config["webhook_port"]).start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    Path(config["ready_file"]).write_text("ready")  # noqa: ASYNC240
    puller = asyncio.create_task(pull_forever(config, tally, stop))
    progress = Path(config["progress"])
    # How far the subscribers are, for the benchmark to know when all arrived.
    while not stop.is_set():
        counts = {who: len(ids) for who, ids in tally.ids.items()}
        progress.write_text(json.dumps(counts))  # noqa: ASYNC240
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.25)
    await puller
    await runner.cleanup()
    results = {"ids": tally.ids, "delays": tally.delays}
    Path(config["results"]).write_text(json.dumps(results))  # noqa: ASYNC240


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(sys.argv[1]))
