"""Prometheus metrics: exchanges by service and outcome, and their latency; exchanges refused
because their member had too many in flight, by institution; the sequencer's
lease, the declarations' backlog, and the failures the hub's running parts count.

One process or several. Under `crossroads serve --workers N` (N > 1) the workers share one port,
so a scrape reaches any one of them: every worker then writes its metrics to files in the folder
`PROMETHEUS_MULTIPROC_DIR` names (prometheus_client's multiprocess mode, set up by `serve`:
entrypoints/metrics_folder.py), and whichever answers `/metrics` sums them all. That decides how
a metric is declared here:

- Counters and histograms count where the event happens (`EXCHANGES.labels(...).inc()`): summed
  over the workers, the dead ones included, so they never go down while the hub runs.
- A gauge names its `multiprocess_mode`: how the workers' values combine (`livemax` for "does any
  running worker hold the lease", `livemostrecent` for a fact about the store that any worker
  reads alike).
- A count a service keeps on itself (`PushDispatcher.failures`) is a counter in COUNTED_FAILURES:
  each worker copies its own count into it (`record`), at each scrape it answers and every
  SAMPLE_SECONDS in between (entrypoints/api/process_metrics.py), so that a worker that is never
  scraped is still counted.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from ...domain.errors import Refusal
from ..metrics_folder import VARIABLE

# prometheus_client chooses at import between values in memory and values in files, from this
# variable: `serve` sets it before its workers start (a worker is a new interpreter).
MULTIPROCESS = bool(os.environ.get(VARIABLE))
SAMPLE_SECONDS = 1.0
REGISTRY = CollectorRegistry()
EXCHANGES = Counter(
    "crossroads_exchanges",
    "Exchanges by service and outcome code.",
    ["service", "outcome"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "crossroads_exchange_seconds",
    "Time to answer an exchange, in seconds.",
    ["service"],
    registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
MEMBER_BUSY = Counter(
    "crossroads_member_busy",
    "Exchanges refused member_busy, by the calling institution: it had as many in flight in the"
    " process as CROSSROADS_MEMBER_CONCURRENCY allows (refused unread and unaudited).",
    ["institution"],
    registry=REGISTRY,
)
SEQUENCER_LEADER = Gauge(
    "crossroads_audit_sequencer_leader",
    "1 when this hub process (or one of the workers of this `serve`) is the audit sequencer"
    " (holds the lease), else 0.",
    registry=REGISTRY,
    multiprocess_mode="livemax",
)
AUDIT_WRITE_FAILURES = Counter(
    "crossroads_audit_write_failures",
    "Answers whose audit record could not be written in this process (each is logged, critical,"
    " with its request id).",
    registry=REGISTRY,
)
DECLARATION_BATCHES_WAITING = Gauge(
    "crossroads_declaration_batches_waiting",
    "Batch files of declarations stored and not yet processed (status S).",
    registry=REGISTRY,
    multiprocess_mode="livemostrecent",
)
DECLARATION_EVENTS_PENDING = Gauge(
    "crossroads_declaration_events_pending",
    "Mutations caused by declarations and not yet published to the hub's subscribers.",
    registry=REGISTRY,
    multiprocess_mode="livemostrecent",
)
PUSH_STALLED = Gauge(
    "crossroads_push_stalled_seconds",
    "The longest a push subscription's next delivery has stayed next, never tried, as this"
    " process read it (0 when none): it grows while the relay or the push workers do not"
    " deliver.",
    registry=REGISTRY,
    multiprocess_mode="livemostrecent",
)
# Failures the hub's running parts count (each part keeps its own count, copied by `record`):
# counters, since they only grow while the process lives (Prometheus adds `_total`).
COUNTED_FAILURES = {
    "crossroads_tree_head_publish_failures": (
        "Tree head publications (to witnesses, to the folder) that failed in this process; each"
        " is retried with the next head."
    ),
    "crossroads_push_round_failures": (
        "Rounds of push delivery that failed in this process (store or audit fault; the messages"
        " stay queued and are retried)."
    ),
    "crossroads_declaration_publish_failures": (
        "Declared mutations the mutation service refused, or publishing rounds that failed, in"
        " this process (they stay pending)."
    ),
    "crossroads_push_stream_losses": (
        "Times this process's relay found the JetStream push stream lost or made again since it"
        " fed it (each is logged, with the deliveries sent again)."
    ),
    "crossroads_push_reconciled": (
        "Push deliveries this process's relay sent again from the outbox to a JetStream stream"
        " that had lost them (none is pushed twice: the outbox says what was delivered)."
    ),
}
# Service names come from the URL: only those the registry knows become labels, and at most this
# many (each is a series per outcome and per latency bucket); anything else counts under a
# shared label, so that /metrics stays small whatever callers send.
SERVICE_LABELS_LIMIT = 200
_LABEL = re.compile(r"[A-Za-z0-9._-]{1,64}")
_labelled: set[str] = set()


# Institutions come from verified tokens, so only the registry's members are ever labels; still
# bounded as service names are, past which they count under `other`.
INSTITUTION_LABELS_LIMIT = SERVICE_LABELS_LIMIT
_institutions: set[str] = set()


def institution_label(institution: str) -> str:
    """The label a refusal of `institution` counts under: its number while fewer than
    INSTITUTION_LABELS_LIMIT have one, `other` past it."""
    if institution in _institutions:
        return institution
    if not _LABEL.fullmatch(institution) or len(_institutions) >= INSTITUTION_LABELS_LIMIT:
        return "other"
    _institutions.add(institution)
    return institution


@dataclass
class Outcome:
    code: str = "ok"


def service_label(service: str, outcome: str) -> str:
    """The label an exchange of `service` counts under: the service's name once the registry knew
    it (any outcome but `unknown_service`), while fewer than SERVICE_LABELS_LIMIT names have one;
    `unknown` for a name the registry does not know, `other` past the limit."""
    if service in _labelled:
        return service
    if outcome == "unknown_service" or not _LABEL.fullmatch(service):
        return "unknown"
    if len(_labelled) >= SERVICE_LABELS_LIMIT:
        return "other"
    _labelled.add(service)
    return service


@contextmanager
def observe(service: str) -> Iterator[Outcome]:
    """Count the block as one exchange of `service` and time it: its outcome is `ok`, the code of
    a refusal that leaves it, or `internal_error` for any other exception."""
    outcome = Outcome()
    started = time.perf_counter()
    try:
        yield outcome
    except Refusal as refusal:
        if outcome.code == "ok":
            outcome.code = refusal.code
        raise
    except Exception:
        if outcome.code == "ok":
            outcome.code = "internal_error"
        raise
    finally:
        label = service_label(service, outcome.code)
        EXCHANGES.labels(label, outcome.code).inc()
        LATENCY.labels(label).observe(time.perf_counter() - started)


# In files, a counter of its own per name; in memory, the counts are read at each scrape instead
# (tests build several hubs in one process, each with its own counts).
_COUNTED = (
    {name: Counter(name, text, registry=None) for name, text in COUNTED_FAILURES.items()}
    if MULTIPROCESS
    else {}
)
_recorded: dict[str, int] = {}


def record(leading: bool, failures: Mapping[str, int]) -> None:
    """Copy this process's own state into its metrics: whether it leads the sequencer, and the
    failure counts its running parts keep (`failures` names each of COUNTED_FAILURES)."""
    SEQUENCER_LEADER.set(1 if leading else 0)
    for name, counter in _COUNTED.items():
        grown = failures[name] - _recorded.get(name, 0)
        if grown > 0:
            counter.inc(grown)
            _recorded[name] = failures[name]


class _Counts(Collector):
    """The failure counts of one scrape, as counters."""

    def __init__(self, counts: Mapping[str, int]) -> None:
        self._counts = counts

    def collect(self) -> Iterable[CounterMetricFamily]:
        for name, documentation in COUNTED_FAILURES.items():
            yield CounterMetricFamily(name, documentation, value=self._counts[name])


def exposition(failures: Mapping[str, int]) -> bytes:
    """The text of /metrics, once `record` has copied this process's state: every worker's
    metrics summed from the shared folder; or, in one process, its metrics and the failure
    counters read from their owners (`failures` names each of COUNTED_FAILURES)."""
    if MULTIPROCESS:
        every_worker = CollectorRegistry()
        MultiProcessCollector(every_worker)
        return generate_latest(every_worker)
    counted = CollectorRegistry(auto_describe=False)
    counted.register(_Counts(failures))
    return generate_latest(REGISTRY) + generate_latest(counted)
