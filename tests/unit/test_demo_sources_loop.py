"""The demo's sources run on uvloop, as the hub does (docs/benchmarks.md, Portal: asyncio's own
loop cost their process more CPU on every request), without uvicorn's proxy-headers layer."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import uvicorn
import uvloop

from crossroads.adapters.keys import HubKeys
from crossroads.entrypoints.cli.demo.run import serve_providers


def test_the_sources_servers_run_on_uvloop(tmp_path: Path, monkeypatch) -> None:
    keys = HubKeys.load_or_create(tmp_path / "keys")
    jwks = tmp_path / "hub-jwks.json"
    jwks.write_text(json.dumps(keys.jwks()))
    loops: list[type] = []
    proxied: list[bool] = []

    async def serve(self: uvicorn.Server) -> None:  # uvicorn's, not ours: listen on no port
        loops.append(type(asyncio.get_running_loop()))
        proxied.append(self.config.proxy_headers)

    monkeypatch.setattr(uvicorn.Server, "serve", serve)
    serve_providers(jwks, "127.0.0.1", 1)
    assert loops, "no source was served"
    assert all(issubclass(loop, uvloop.Loop) for loop in loops), loops
    # No proxy stands before the sources: uvicorn's X-Forwarded-* layer only cost CPU.
    assert not any(proxied), "a source reads X-Forwarded-* headers"
