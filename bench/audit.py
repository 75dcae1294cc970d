"""Audit log benchmark: appends, sequencing, proofs, full verification and the citizen's list.

    crossroads bench audit [--entries N] [--store sqlite|postgres] [--json]

1. append: N exchange records (about 600 bytes each, as the hub writes them, for N/20 persons)
   go through the store's real `append` (group commit, acknowledged once durable) from many
   concurrent tasks, while the sequencer of the same process gives them leaf indexes and signs
   heads. `append_per_s` is N over the time until the last append was acknowledged; the time
   until the last one was also sequenced is `sequenced_per_s`.
2. proofs: inclusion proofs of random entries against the tree of N entries (`proof_ms`: p99).
3. verify: `crossroads audit verify`'s check of the whole log (`verify_seconds`).
4. citizen: the first page of a random person's "who consulted my data", with a proof per entry
   and registry names (`citizen_query_ms`: p99).
5. `bytes_per_entry`: the store's size (log, tree nodes, heads, indexes) over N.

PostgreSQL: set CROSSROADS_BENCH_POSTGRES_DSN to an empty database.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from pathlib import Path

from report import print_figures  # bench/report.py, beside this script

from crossroads.bootstrap import bootstrap
from crossroads.config import Settings
from crossroads.demo.country import enterprise_number, persons
from crossroads.domain.audit import AuditRecord
from crossroads.entrypoints.batch import bulk_job

APPENDERS = 4000  # concurrent appends in flight, as that many requests would be in a busy hub
ENTRIES_PER_PERSON = 20
CONSUMERS = [enterprise_number(4_000_000 + i) for i in range(40)]
SERVICES = ["person.identity/1", "health.affiliation/1", "employment.history/2", "child.benefit/1"]
PURPOSES = ["SOCIAL_INTEGRATION", "CHILD_BENEFIT", "HEALTH_INSURANCE", "UNEMPLOYMENT"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def run(n: int, store: str, proofs: int, citizens: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        url = (
            f"sqlite:///{tmp}/bench.sqlite3"
            if store == "sqlite"
            else os.environ["CROSSROADS_BENCH_POSTGRES_DSN"]
        )
        settings = Settings(
            data_dir=Path(tmp),
            store_url=url,
            admin_token="bench-operator-token",
            subject_hash_secret="b" * 32,
            tree_head_every_entries=100_000,
            tree_head_every_seconds=10,
        )
        hub = await bootstrap(settings, create_keys=True)
        try:
            subjects = persons(max(1, n // ENTRIES_PER_PERSON), seed=5)
            keys = [hub.hasher.hex(s) for s in subjects]
            with bulk_job():
                appended, sequenced = await append_all(hub, n, keys)
            size = await hub.store.transparency.size()
            assert size == n, f"{size} of {n} entries sequenced"
            head = await hub.sequencer.sign_now()

            rng = random.Random(3)
            proof_times = []
            for _ in range(proofs):
                index = rng.randrange(n)
                started = time.perf_counter()
                await hub.audit_proofs.inclusion(index, head.tree_size)
                proof_times.append((time.perf_counter() - started) * 1000)

            started = time.perf_counter()
            report = await hub.auditor.verify()
            verify_seconds = time.perf_counter() - started
            assert report.ok and report.entries == n, report.problem

            citizen_times, listed = [], 0
            for _ in range(citizens):
                key = bytes.fromhex(rng.choice(keys))
                started = time.perf_counter()
                page = await hub.history.page(key, limit=50)
                citizen_times.append((time.perf_counter() - started) * 1000)
                listed += len(page.consultations)
                assert all(c.inclusion_path is not None for c in page.consultations)
            stored = await store_bytes(hub, store, url)
        finally:
            await hub.close()
    return {
        "entries": n,
        "store": store,
        "append_per_s": round(n / appended),
        "sequenced_per_s": round(n / sequenced),
        "proof_ms": round(percentile(proof_times, 0.99), 3),
        "proof_p50_ms": round(percentile(proof_times, 0.5), 3),
        "verify_seconds": round(verify_seconds, 1),
        "citizen_query_ms": round(percentile(citizen_times, 0.99), 2),
        "citizen_p50_ms": round(percentile(citizen_times, 0.5), 2),
        "citizen_entries_per_page": round(listed / max(1, citizens), 1),
        "bytes_per_entry": round(stored / n, 1),
    }


async def append_all(hub, n: int, keys: list[str]) -> tuple[float, float]:
    """Append n records from APPENDERS tasks with the sequencer running; (seconds until all were
    acknowledged, seconds until all were sequenced)."""
    stop = asyncio.Event()
    sequencing = asyncio.create_task(
        hub.sequencer.run(stop, hub.store.sequencer_lease(), idle_seconds=0.05)
    )
    counter = iter(range(n))
    started = time.perf_counter()

    async def appender(worker: int) -> None:
        rng = random.Random(worker)
        for i in counter:
            await hub.store.audit.append(
                AuditRecord(
                    kind="exchange",
                    at_ms=1_790_000_000_000 + i,
                    outcome="ok" if i % 50 else "no_authorization",
                    request_id=f"{worker:04x}-{i:012x}-4c1f-9d2e-{rng.getrandbits(48):012x}",
                    consumer=rng.choice(CONSUMERS),
                    application="case-app",
                    user_id=f"agent-{rng.randrange(5000)}",
                    service=rng.choice(SERVICES),
                    purpose=rng.choice(PURPOSES),
                    authorization=f"ISC/24/{rng.randrange(100, 400)}",
                    subject_hash=keys[rng.randrange(len(keys))],
                    providers=(rng.choice(CONSUMERS),),
                    latency_us=rng.randrange(800, 20_000),
                )
            )

    await asyncio.gather(*(appender(w) for w in range(APPENDERS)))
    appended = time.perf_counter() - started
    deadline = time.monotonic() + 3600
    # The sequencer signals nothing when it catches up: poll the tree's size, within a deadline.
    while await hub.store.transparency.size() < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the sequencer did not reach {n} entries within the hour")
        await asyncio.sleep(0.05)
    sequenced = time.perf_counter() - started
    stop.set()
    await sequencing
    return appended, sequenced


async def store_bytes(hub, store: str, url: str) -> int:
    if store == "sqlite":
        # The audit log's own file (adapters/sql/audit_file.py).
        hub.store.audit_db._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        # One stat once the timings are taken: blocking the loop costs the figures nothing.
        return Path(hub.store.audit_db.path).stat().st_size  # noqa: ASYNC240
    row = await hub.store.db.fetchone(
        "SELECT pg_total_relation_size('audit_log') + pg_total_relation_size('merkle_nodes')"
        " + pg_total_relation_size('tree_heads')"
    )
    return int(row[0])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--proofs", type=int, default=2000)
    parser.add_argument("--citizens", type=int, default=500)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(run(args.entries, args.store, args.proofs, args.citizens))
    print_figures(result, args.json)


if __name__ == "__main__":
    main()
