"""A real `crossroads serve` on PostgreSQL through a proxy the test cuts: during the outage the
pool warns of each failed attempt to connect again (about one a second per worker) and the log
of an hour's outage was thousands of the same lines. Each warning is written once, then counted
for a minute (entrypoints/log_repeats.py); the hub is back once the store is."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from crossroads.demo.launch import wait_ready

from ..conftest import drop_postgres_database, fresh_postgres_database
from ..tcp_proxy import TcpProxy
from .processes import CLI, Deployment

pytestmark = pytest.mark.anyio
OUTAGE_SECONDS = 8


async def until_ready(url: str) -> None:
    async with httpx.AsyncClient(timeout=2) as http:
        while True:
            try:
                if (await http.get(f"{url}/ready")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)


def serve(deployment: Deployment, log_path: Path) -> subprocess.Popen:
    """`crossroads serve`, its log lines into `log_path`, once ready."""
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [*CLI, "serve", "--port", str(deployment.base_port)],
            env={**deployment.env, "CROSSROADS_LOG_LEVEL": "warning"},
            stderr=log,
        )
    wait_ready(f"{deployment.url(0)}/ready", process, timeout=60)
    return process


async def test_an_outage_writes_each_warning_once_not_once_a_second(tmp_path):
    url = fresh_postgres_database()
    host, port = url.split("@", 1)[1].split("/", 1)[0].split(":")
    proxy = await TcpProxy(host, int(port)).start()
    log_path = tmp_path / "hub.log"
    process: subprocess.Popen | None = None
    deployment: Deployment | None = None
    try:
        # Seeding blocks: in a thread, so that this loop keeps the proxy passing its traffic.
        deployment = await asyncio.to_thread(Deployment, tmp_path, proxy.url(url))
        process = await asyncio.to_thread(serve, deployment, log_path)
        proxy.cut()
        await asyncio.sleep(OUTAGE_SECONDS)
        proxy.mend()
        async with asyncio.timeout(30):
            await until_ready(deployment.url(0))
        process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(process.wait, 30)
        lines = [json.loads(line) for line in log_path.read_text().splitlines() if line]
        connecting = [
            line
            for line in lines
            if line["logger"] == "psycopg.pool" and "error connecting" in line["message"]
        ]
        # One worker: each of its pools' first failed attempt is written; the next ones (the same
        # line, one a second) are not. Without it: 12 lines in 8 s.
        messages = [line["message"] for line in connecting]
        assert 1 <= len(messages) == len(set(messages)) <= 2, messages
        assert all(line["level"] != "error" for line in lines if line["logger"] == "psycopg.pool")
    finally:
        if process is not None and process.poll() is None:
            process.kill()
        if deployment is not None:
            await asyncio.to_thread(deployment.stop_all)
        await proxy.close()
        drop_postgres_database(url)
