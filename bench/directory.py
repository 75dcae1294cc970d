"""Directory benchmark: bulk integration of N persons x 5 entries, then the exchange's access check.

crossroads bench directory [--persons N] [--store sqlite|postgres] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import tempfile
import time
from datetime import date
from pathlib import Path

from report import print_figures  # bench/report.py, beside this script

from crossroads.bootstrap import bootstrap
from crossroads.config import Settings
from crossroads.demo.country import enterprise_number, persons
from crossroads.domain.directory import check_access
from crossroads.domain.errors import Refusal
from crossroads.domain.periods import Period
from crossroads.domain.registry import Capacity, Institution, IntegrationRight
from crossroads.entrypoints.batch import bulk_job, default_parsers

CAPACITIES = ["HEALTH_INSURED", "JOB_SEEKER", "CHILD_BENEFICIARY", "SOCIAL_ASSISTANCE", "PENSIONER"]
INSTITUTIONS = [enterprise_number(3_000_000 + i) for i in range(50)]
GRANTED = frozenset(CAPACITIES)  # every institution may integrate in every capacity here


def lines(subjects: list[str]):
    rng = random.Random(7)
    for subject in subjects:
        for capacity in CAPACITIES:  # five entries per person, five institutions
            yield {
                "subject": subject,
                "institution": rng.choice(INSTITUTIONS),
                "capacity": capacity,
                "start": f"20{rng.randrange(10, 24)}-01-01",
            }


async def run(n: int, store: str, checks: int, chunk: int, parsers: int) -> dict:
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
        )
        hub = await bootstrap(settings, create_keys=True)
        try:
            for number in INSTITUTIONS:
                await hub.registry.put_institution(Institution(number, number))
            for code in CAPACITIES:
                await hub.registry.put_capacity(Capacity(code, code))
            for number in INSTITUTIONS:
                for code in CAPACITIES:
                    await hub.registry.put_integration_right(
                        IntegrationRight(number, code, "bench")
                    )
            subjects = persons(n, seed=3)
            # The file is made before the clock starts: what is timed is the import itself, as
            # `crossroads directory import FILE` does it (reading, validation, keyed hashing,
            # merging, writing, auditing), not the synthetic data.
            data = "".join(json.dumps(line) + "\n" for line in lines(subjects)).encode()
            with bulk_job(parsers) as pool:
                started = time.perf_counter()
                report = await hub.directory.import_file(
                    data, "jsonl", None, "bench", chunk_size=chunk, parsers=pool
                )
                load = time.perf_counter() - started
            assert not report.errors, report.errors[:3]
            rng = random.Random(11)
            timings = []
            wanted = Period.day(date(2025, 6, 1))
            for _ in range(checks):
                subject = rng.choice(subjects)
                t0 = time.perf_counter()
                key = hub.hasher.key(hub.scheme.normalise_person(subject))
                held = await hub.store.directory.held_by(key, rng.choice(INSTITUTIONS))
                with contextlib.suppress(Refusal):
                    check_access(held, "x", ("HEALTH_INSURED", "JOB_SEEKER"), wanted, GRANTED, True)
                timings.append((time.perf_counter() - t0) * 1000)
            timings.sort()
            entries = await hub.store.directory.count()
            size = None
            if store == "sqlite":
                hub.store.db._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                row = hub.store.db._reader.execute(
                    "SELECT SUM(pgsize) FROM dbstat WHERE name = 'integrations'"
                ).fetchone()
                database = Path(url[len("sqlite:///") :])
                # One stat once the timings are taken: blocking the loop costs the figures nothing.
                size = row[0] if row and row[0] else database.stat().st_size  # noqa: ASYNC240
        finally:
            await hub.close()
    return {
        "persons": n,
        "entries": entries,
        "chunk": chunk,
        "parsers": parsers,
        "load_seconds": round(load, 2),
        "check_p50_ms": round(timings[len(timings) // 2], 4),
        "check_p99_ms": round(timings[int(len(timings) * 0.99)], 4),
        "bytes_per_entry": round(size / entries, 1) if size else None,
        "store": store,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--checks", type=int, default=20_000)
    parser.add_argument(
        "--chunk",
        type=int,
        default=250_000,
        help="lines per transaction (crossroads directory import --chunk)",
    )
    parser.add_argument(
        "--parsers",
        type=int,
        default=default_parsers(),
        help="parsing processes (crossroads directory import --parsers)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(run(args.persons, args.store, args.checks, args.chunk, args.parsers))
    print_figures(result, args.json)


if __name__ == "__main__":
    main()
