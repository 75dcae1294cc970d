"""Prometheus metrics: exchanges by service and outcome, and their latency."""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry()
EXCHANGES = Counter("crossroads_exchanges", "Exchanges by service and outcome code.", ["service", "outcome"], registry=REGISTRY)
LATENCY = Histogram(
    "crossroads_exchange_seconds", "Time to answer an exchange, in seconds.", ["service"], registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
SEQUENCER_LEADER = Gauge("crossroads_audit_sequencer_leader",
                         "1 when this hub process is the audit sequencer (holds the lease), else 0.", registry=REGISTRY)
PUBLISH_FAILURES = Gauge("crossroads_tree_head_publish_failures",
                         "Tree head publications (to witnesses, to the folder) that failed in this process; each is retried with the next head.",
                         registry=REGISTRY)
PUSH_FAILURES = Gauge("crossroads_push_round_failures",
                      "Rounds of push delivery that failed in this process (store or audit fault; the messages stay queued and are retried).",
                      registry=REGISTRY)
AUDIT_WRITE_FAILURES = Gauge("crossroads_audit_write_failures",
                             "Answers whose audit record could not be written in this process (each is logged, critical, with its request id).",
                             registry=REGISTRY)
DECLARATION_BATCHES_WAITING = Gauge("crossroads_declaration_batches_waiting",
                                    "Batch files of declarations stored and not yet processed (status S).", registry=REGISTRY)
DECLARATION_EVENTS_PENDING = Gauge("crossroads_declaration_events_pending",
                                   "Mutations caused by declarations and not yet published to the hub's subscribers.", registry=REGISTRY)
DECLARATION_PUBLISH_FAILURES = Gauge("crossroads_declaration_publish_failures",
                                     "Declared mutations the mutation service refused, or publishing rounds that failed, in this process (they stay pending).",
                                     registry=REGISTRY)
_KNOWN_SERVICES_LIMIT = 500  # label values come from callers; keep the series bounded


@dataclass
class Outcome:
    code: str = "ok"


@contextmanager
def observe(service: str) -> Iterator[Outcome]:
    outcome = Outcome()
    started = time.perf_counter()
    try:
        yield outcome
    except Exception:
        if outcome.code == "ok":
            outcome.code = "internal_error"
        raise
    finally:
        label = service if len(LATENCY._metrics) < _KNOWN_SERVICES_LIMIT else "other"
        EXCHANGES.labels(label, outcome.code).inc()
        LATENCY.labels(label).observe(time.perf_counter() - started)
