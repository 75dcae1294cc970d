"""Exchange benchmark: real HTTP load through a hub started with production settings, and straight
at the provider, in the same run.

    crossroads bench exchange [--store sqlite|postgres] [--seconds S] [--connections C]
                              [--path own|r1] [--json]

The hub runs as `crossroads serve --workers 2` (uvloop, httptools, no access log), the demo's
authentic sources in their own process, and the load comes from wrk (Debian package `wrk`) in a
third process, so the generator is not the bottleneck. Every request is a full exchange
(token check, identifier, authorization, directory, signed forward, schema check, minimisation,
durable audit record) about one of the persons the asking institution holds.

In the same run, the same load goes through a bare reverse proxy (nginx from Debian's packages,
one worker, keep-alive to the same provider): `ratio_to_nginx` is the hub's throughput over that
proxy's, the figure this project steers by, since both drift together with the machine. The proxy
is measured twice, before the hub's load and after it (`nginx_proxy_before_per_s`,
`nginx_proxy_after_per_s`), and the ratio is taken against the higher: one measurement alone
moved by nearly half between runs of one sitting (the hub's background work after its load, the
audit log's sequencing of every record, competes with the proxy measured right after), and a
proxy measured low flattered the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psycopg
from process_cpu import ServerCpu, cpu_seconds  # bench/process_cpu.py, beside this script
from report import print_figures  # bench/report.py, beside this script

from crossroads.adapters.keys import HubKeys, make_client_assertion
from crossroads.demo import country
from crossroads.demo.launch import free_port_block, wait_providers, wait_ready
from crossroads.demo.seed import client_key_path

CLI = [sys.executable, "-m", "crossroads.entrypoints.cli"]
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

LUA = """
local bodies = {%s}
local i = 0
request = function()
  i = i + 1
  local path = "%s"
  local headers = {["Content-Type"] = "application/json", ["Authorization"] = "%s"%s}
  return wrk.format("POST", path, headers, bodies[(i %% #bodies) + 1])
end
"""


def wrk(url: str, script: str, seconds: int, connections: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", f.name, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(f.name)

    def ms(label: str) -> float:
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)", out, re.M)
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    requests = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    errors = (int(non2xx.group(1)) if non2xx else 0) + (
        sum(map(int, socket_errors.groups())) if socket_errors else 0
    )
    return {
        "throughput_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": round(ms("50"), 2),
        "p99_ms": round(ms("99"), 2),
        "requests": requests,
        "errors": errors,
    }


NGINX_CONF = """
worker_processes 1;
daemon off;
pid %(tmp)s/nginx.pid;
error_log %(tmp)s/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path %(tmp)s/nginx-body;
  proxy_temp_path %(tmp)s/nginx-proxy;
  fastcgi_temp_path %(tmp)s/nginx-fastcgi;
  uwsgi_temp_path %(tmp)s/nginx-uwsgi;
  scgi_temp_path %(tmp)s/nginx-scgi;
  upstream provider { server 127.0.0.1:%(upstream)d; keepalive 32; }
  server {
    listen 127.0.0.1:%(port)d;
    location / {
      proxy_pass http://provider;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
"""


def start_nginx(tmp: Path, upstream: int) -> tuple[subprocess.Popen, int]:
    """A bare reverse proxy to `upstream`: one worker, keep-alive upstream, no access log."""
    port = free_port_block(1)
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF % {"tmp": tmp, "upstream": upstream, "port": port})
    process = subprocess.Popen(
        ["nginx", "-c", str(conf), "-p", str(tmp), "-e", str(tmp / "nginx-error.log")]
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return process, port
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"nginx did not start; see {tmp / 'nginx-error.log'}")


def lua_bodies(bodies: list[str]) -> str:
    return ", ".join(json.dumps(b) for b in bodies)


def run(
    store: str, seconds: int, connections: int, persons: int, provider: str, path: str = "own"
) -> dict:
    """`path`: our own exchange (`/v1/exchange/…`) or X-Road's address (`/r1/…`)."""
    for tool, package in (("wrk", "wrk"), ("nginx", "nginx-light")):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed: apt-get install {package}")
    tmp = Path(tempfile.mkdtemp(prefix="crossroads-bench-"))
    port = free_port_block(8)
    provider_base = port
    pg_admin = os.environ.get(
        "CROSSROADS_BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    database = f"crossroads_bench_{uuid.uuid4().hex[:8]}"
    if store == "postgres":
        with psycopg.connect(pg_admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        store_url = pg_admin.rsplit("/", 1)[0] + f"/{database}"
    else:
        store_url = f"sqlite:///{tmp / 'crossroads.sqlite3'}"
    env = {
        **os.environ,
        "CROSSROADS_DATA_DIR": str(tmp),
        "CROSSROADS_STORE_URL": store_url,
        "CROSSROADS_ISSUER": f"http://127.0.0.1:{port}",
        "CROSSROADS_WORKERS": os.environ.get("BENCH_WORKERS", "2"),
        "CROSSROADS_LOG_LEVEL": "warning",
        "CROSSROADS_REGISTRY_CACHE_SECONDS": "5",
        "CROSSROADS_TOKEN_TTL_SECONDS": "3600",
    }
    subprocess.run(
        [
            *CLI,
            "demo",
            "--persons",
            str(persons),
            "--seed-only",
            "--data-dir",
            str(tmp),
            "--port",
            str(port),
            "--provider-port-base",
            str(provider_base),
            "--store-url",
            store_url,
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    nr_port = provider_base + country.BY_KEY["nr"].port_offset
    if provider == "static":
        source = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("static_provider.py")), str(nr_port)]
        )
    else:
        source = subprocess.Popen(
            [
                *CLI,
                "providers",
                "--jwks",
                str(tmp / "hub-jwks.json"),
                "--port-base",
                str(provider_base),
            ],
            env=env,
        )
    processes = [source, subprocess.Popen([*CLI, "serve", "--port", str(port)], env=env)]
    base = f"http://127.0.0.1:{port}"
    try:
        if provider != "static":
            wait_providers(provider_base, source)
        wait_ready(f"{base}/ready", processes[1], timeout=60)
        client = f"{country.BY_KEY['welfare'].number}:case-app"
        key = json.loads(client_key_path(tmp, client).read_text())
        token = httpx.post(
            f"{base}/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client,
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": make_client_assertion(client, f"{base}/oauth/token", key),
            },
        ).json()["access_token"]
        welfare = country.BY_KEY["welfare"].number
        held = [
            line["subject"]
            for line in country.directory_lines(country.persons(persons))
            if line["institution"] == welfare and line.get("phase") != "provisional"
        ][:200]
        bodies = [json.dumps({"subject": s, "purpose": "SOCIAL_INTEGRATION"}) for s in held]
        if path == "r1":
            target = f"/r1/BE/GOV/{country.BY_KEY['nr'].number}/services/person.identity"
            extra = {"X-Road-Client": f"BE/GOV/{client.replace(':', '/')}"}
        else:
            target, extra = "/v1/exchange/person.identity", {}
        lua_extra = "".join(f', ["{k}"] = "{v}"' for k, v in extra.items())
        check = httpx.post(
            f"{base}{target}",
            content=bodies[0],
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                **extra,
            },
        )
        check.raise_for_status()
        script = LUA % (lua_bodies(bodies), target, f"Bearer {token}", lua_extra)
        # Straight at the provider and through the bare proxy: the same kind of request, signed
        # once by the hub's key.
        nr_url = f"http://127.0.0.1:{nr_port}/services/person.identity/1"
        keys = HubKeys.load_or_create(tmp / "keys")
        direct_body = json.dumps(
            {"subject": held[0], "service": "person.identity", "purpose": "SOCIAL_INTEGRATION"}
        )

        def direct_script() -> str:
            """Signed now: a provider refuses a signature older than its clock skew, and the
            proxy's second measurement comes a minute after its first."""
            signature = keys.sign_detached(
                direct_body.encode(), {"aud": nr_url, "rid": "bench", "iat": int(time.time())}
            )
            return LUA % (
                lua_bodies([direct_body]),
                "/services/person.identity/1",
                "none",
                f', ["X-Crossroads-Signature"] = "{signature}"',
            )

        nginx, nginx_port = start_nginx(tmp, nr_port)
        processes.append(nginx)
        proxy_url = f"http://127.0.0.1:{nginx_port}/services/person.identity/1"
        wrk(proxy_url, direct_script(), 2, connections)
        proxied_before = wrk(proxy_url, direct_script(), seconds, connections)
        wrk(f"{base}{target}", script, 3, connections)
        cpu_before = cpu_seconds(processes[1].pid)
        server = ServerCpu(database if store == "postgres" else None, nats=False).start()
        hub = wrk(f"{base}{target}", script, seconds, connections)
        server.stop()
        hub["hub_cpu_ms_per_request"] = round(
            (cpu_seconds(processes[1].pid) - cpu_before) * 1000 / max(hub["requests"], 1), 3
        )
        # PostgreSQL's backends share the two cores: what a change moves from the hub to the
        # server (or back) shows here, not in the hub's figure.
        hub["server_cpu_ms_per_request"] = round(
            server.seconds() * 1000 / max(hub["requests"], 1), 3
        )
        direct = wrk(nr_url, direct_script(), seconds, connections)
        proxied_after = wrk(proxy_url, direct_script(), seconds, connections)
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(30)
        if store == "postgres":
            with psycopg.connect(pg_admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        shutil.rmtree(tmp, ignore_errors=True)
    # The proxy's better measurement is the machine's limit: the ratio is never flattered by one
    # the hub's own background work held down.
    # wrk counts refused answers in its rate: a run with errors is not the proxy's limit.
    runs = [proxied_before, proxied_after]
    clean = [run for run in runs if run["errors"] == 0] or runs
    proxied = max(clean, key=lambda run: run["throughput_per_s"])
    return {
        "store": store,
        "provider": provider,
        "path": path,
        "seconds": seconds,
        "connections": connections,
        **hub,
        "direct_throughput_per_s": direct["throughput_per_s"],
        "direct_p99_ms": direct["p99_ms"],
        "direct_errors": direct["errors"],
        "ratio_to_direct": round(hub["throughput_per_s"] / direct["throughput_per_s"], 3),
        "nginx_proxy_per_s": proxied["throughput_per_s"],
        "nginx_proxy_before_per_s": proxied_before["throughput_per_s"],
        "nginx_proxy_after_per_s": proxied_after["throughput_per_s"],
        "nginx_proxy_p99_ms": proxied["p99_ms"],
        "nginx_proxy_errors": proxied_before["errors"] + proxied_after["errors"],
        "ratio_to_nginx": round(hub["throughput_per_s"] / proxied["throughput_per_s"], 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seconds", type=int, default=20)
    # 8: enough to keep both hub processes busy past the rates; more connections add
    # throughput but queue requests behind one another, which is what the p99 then measures.
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--persons", type=int, default=2000)
    parser.add_argument(
        "--provider",
        choices=["static", "demo"],
        default="static",
        help=(
            "static: a provider that costs nothing (measures the hub);"
            " demo: the demo's national register"
        ),
    )
    parser.add_argument(
        "--path",
        choices=["own", "r1"],
        default="own",
        help="own: POST /v1/exchange/…; r1: X-Road's address, with X-Road-Client",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.store, args.seconds, args.connections, args.persons, args.provider, args.path)
    print_figures(result, args.json)


if __name__ == "__main__":
    main()
