"""Monitoring a real `crossroads serve --workers 2`: /metrics sums every worker whichever answers,
a worker's death is logged at error and counts nothing twice, every line names its process, and
the traces reach a real OTLP/HTTP receiver through the standard exporter."""

from __future__ import annotations

import gzip
import json
import os
import re
import signal
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from crossroads.demo.launch import wait_ready

from .processes import CLI, WELFARE, Deployment, wait_for

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


class Receiver(ThreadingHTTPServer):
    """An OTLP/HTTP trace receiver: keeps the spans of every protobuf POST to /v1/traces."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.spans: list = []
        self.resources: list[dict] = []
        self.lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        ok = self.path == "/v1/traces" and self.headers["Content-Type"] == "application/x-protobuf"
        if ok:
            request = ExportTraceServiceRequest.FromString(body)
            with self.server.lock:  # type: ignore[attr-defined]
                for resource_spans in request.resource_spans:
                    self.server.resources.append(  # type: ignore[attr-defined]
                        {a.key: a.value for a in resource_spans.resource.attributes}
                    )
                    for scope_spans in resource_spans.scope_spans:
                        self.server.spans.extend(scope_spans.spans)  # type: ignore[attr-defined]
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200 if ok else 400)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args) -> None:
        pass


class TwoWorkers:
    """A seeded hub served by `crossroads serve --workers 2`, its log lines, its trace receiver."""

    def __init__(self, deployment: Deployment, log_path, receiver: Receiver) -> None:
        self.deployment = deployment
        self.log_path = log_path
        self.url = deployment.url(0)
        env = {
            **deployment.env,
            "CROSSROADS_WORKERS": "2",
            "CROSSROADS_LOG_LEVEL": "info",
            "CROSSROADS_TRACING": "true",
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "OTEL_SERVICE_NAME": "hub-under-test",
        }
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self._log = open(log_path, "w")  # noqa: SIM115 (open while the hub runs)
        self.process = subprocess.Popen(
            [*CLI, "serve", "--port", str(deployment.base_port)], env=env, stderr=self._log
        )
        wait_ready(f"{self.url}/ready", self.process, timeout=90)

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line]

    def exchange(self, token: str, n: int, **headers: str) -> httpx.Response:
        subject = self.deployment.subjects[n % len(self.deployment.subjects)]
        answer = httpx.post(
            f"{self.url}/v1/exchange/health.affiliation",
            headers={"Authorization": f"Bearer {token}", **headers},
            json={"subject": subject, "purpose": "SOCIAL_INTEGRATION"},
            timeout=20,
        )
        assert answer.status_code == 200, answer.text
        return answer

    def scrape(self) -> dict[str, float]:
        """Each sample of /metrics (a new connection: any worker may answer)."""
        text = httpx.get(f"{self.url}/metrics", timeout=10).text
        samples: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                samples[name] = float(value)
        return samples

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(30)
        self._log.close()


@pytest.fixture(scope="module")
def receiver():
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


@pytest.fixture(scope="module")
def hub(tmp_path_factory, receiver):
    folder = tmp_path_factory.mktemp("two-workers")
    deployment = Deployment(folder, f"sqlite:///{folder / 'hub' / 'crossroads.sqlite3'}")
    served = None
    try:
        served = TwoWorkers(deployment, folder / "hub.log", receiver)
        yield served
    finally:
        if served is not None:
            served.stop()
        deployment.stop_all()


def exchanges_counted(samples: dict[str, float]) -> float:
    return sum(v for k, v in samples.items() if k.startswith("crossroads_exchanges_total{"))


def answered_by(hub: TwoWorkers, route: str) -> set[int]:
    return {
        line["pid"]
        for line in hub.lines()
        if line["logger"] == "crossroads.access" and line["route"] == route
    }


def test_metrics_scraped_again_and_again_from_a_two_worker_hub_never_go_down(hub):
    token = hub.deployment.token(0)
    leading = wait_for(
        lambda: hub.scrape().get("crossroads_audit_sequencer_leader") == 1.0,
        timeout=30,
        what="a worker leads, whichever answers",
    )
    assert leading
    done = 0
    last: dict[str, float] = {}
    # Until both workers have answered exchanges and scrapes (each request a new connection, which
    # either worker accepts), and at least 6 rounds.
    for round_ in range(60):
        for _ in range(3):
            hub.exchange(token, done)
            done += 1
        for _ in range(3):
            samples = hub.scrape()
            assert samples["crossroads_audit_sequencer_leader"] == 1.0
            for name, value in last.items():
                if name.startswith(("crossroads_exchange", "crossroads_audit_write")):
                    assert samples.get(name, 0.0) >= value, name
            # Every exchange is counted once, by whichever worker answered it.
            assert exchanges_counted(samples) == done
            last = samples
        both = {"/v1/exchange/{service}", "/metrics"}
        if round_ >= 5 and all(len(answered_by(hub, route)) == 2 for route in both):
            break
    else:
        raise AssertionError("one worker answered everything")
    assert last['crossroads_exchange_seconds_count{service="health.affiliation"}'] == done


def test_every_line_names_its_process_and_the_access_log_names_no_person(hub):
    token = hub.deployment.token(0)
    answer = hub.exchange(token, 7)
    subject = hub.deployment.subjects[7]
    wait_for(
        lambda: any(
            line.get("request_id") == answer.headers["x-request-id"] for line in hub.lines()
        ),
        what="the exchange's access line",
    )
    lines = hub.lines()
    assert all("pid" in line for line in lines)
    workers = {line["pid"]: line.get("worker") for line in lines if "worker" in line}
    assert set(workers.values()) == {0, 1}
    line = next(x for x in lines if x.get("request_id") == answer.headers["x-request-id"])
    assert line["logger"] == "crossroads.access" and line["level"] == "info"
    assert (line["method"], line["route"], line["status"]) == (
        "POST",
        "/v1/exchange/{service}",
        200,
    )
    assert line["client_id"] == WELFARE
    assert line["duration_ms"] > 0 and line["worker"] in (0, 1)
    text = hub.log_path.read_text()
    assert subject not in text and token not in text


def test_a_worker_that_dies_is_logged_at_error_replaced_and_its_counts_kept(hub):
    token = hub.deployment.token(0)
    for n in range(4):
        hub.exchange(token, n)
    before = exchanges_counted(hub.scrape())
    victim = next(iter(answered_by(hub, "/v1/exchange/{service}")))
    os.kill(victim, signal.SIGKILL)
    logged = wait_for(
        lambda: [x for x in hub.lines() if x.get("worker_pid") == victim],
        timeout=30,
        what="the supervisor's line",
    )
    assert logged[0]["level"] == "error" and logged[0]["logger"] == "crossroads.supervisor"
    assert re.fullmatch(
        rf"worker [01] \(pid {victim}\) was killed by SIGKILL; starting a replacement",
        logged[0]["message"],
    )
    wait_for(
        lambda: httpx.get(f"{hub.url}/ready", timeout=5).status_code == 200,
        what="the hub ready again",
    )
    # The dead worker's exchanges stay counted, and a worker leads again (the lease moves when
    # the leader was the one killed); its own gauge left /metrics with it.
    hub.exchange(token, 0)
    assert wait_for(
        lambda: (
            (s := hub.scrape())["crossroads_audit_sequencer_leader"] == 1.0
            and exchanges_counted(s) == before + 1
        ),
        timeout=30,
        what="every exchange counted and a leader",
    )


def test_traces_reach_an_otlp_receiver_with_the_provider_call_inside_the_exchange(hub, receiver):
    token = hub.deployment.token(0)
    answer = hub.exchange(token, 3, traceparent=f"00-{TRACE_ID}-{CALLER_SPAN}-01")

    def exchange_spans():
        with receiver.lock:
            found = [s for s in receiver.spans if s.trace_id.hex() == TRACE_ID]
        names = {s.name for s in found}
        return found if {"POST /v1/exchange/{service}", "provider call"} <= names else None

    spans = wait_for(exchange_spans, timeout=30, what="the exchange's spans exported")
    server = next(s for s in spans if s.name == "POST /v1/exchange/{service}")
    call = next(s for s in spans if s.name == "provider call")
    assert server.parent_span_id.hex() == CALLER_SPAN  # the caller's trace, continued
    assert call.parent_span_id == server.span_id
    attributes = {a.key: a.value for a in server.attributes}
    assert attributes["crossroads.request_id"].string_value == answer.headers["x-request-id"]
    assert attributes["http.response.status_code"].int_value == 200
    call_attributes = {a.key: a.value for a in call.attributes}
    assert call_attributes["http.response.status_code"].int_value == 200
    assert {r["service.name"].string_value for r in receiver.resources} == {"hub-under-test"}
    subject = hub.deployment.subjects[3]
    assert all(subject not in str(s) for s in spans)
