"""Statistics warehouse benchmark: extraction of declarations and exchanges, then aggregates.

    crossroads bench statistics [--records N] [--queries Q] [--store FILE|URL] [--json]

The default (200,000 records) takes about a minute; the issue's figure is
`--records 10000000` (filling the store alone then takes a few minutes: `--store FILE` keeps
the filled SQLite store in FILE, and a later run with the same FILE extracts from it again
without filling it). `--store postgresql://…` extracts from that PostgreSQL database instead,
filling it first if its audit log is empty (use an empty database of its own: it is not
dropped afterwards).

1. The store is filled in bulk inside the database itself (SQLite: a recursive CTE;
   PostgreSQL: generate_series; no Python row loop): N/2 DmfA wage rows under N/20
   declarations, and N/2 exchange records in the audit log, the same records in both.
   Filling is not timed.
2. `extract_seconds`: `WarehouseExtraction.run` from an empty DuckDB warehouse file: read in
   the stores' order as Arrow columns, pseudonymise every person and employer, load through
   Arrow, build the marts into a new snapshot and decide every mart's suppression lattice
   into it. `records` is how many records it extracted; `extract_cpu_seconds` the CPU time
   this process spent on it (every thread), and `load_average` the machine's 1-minute load
   before and after: on a shared machine the wall time says as much about the neighbours as
   about the extraction.
3. `lattice_seconds`: the part of `extract_seconds` spent deciding the lattices (counting the
   cells, then the suppression, then storing the decision in the snapshot).
4. `first_query_ms`: the first suppressed question of each mart after publication, asked of a
   warehouse and a StatisticsQueries opened afterwards, as a hub worker would (it opens the
   snapshot and reads the stored decision). `query_p95_ms`: every suppressed query, those first
   ones included (random groupings of the employment and exchanges marts).
5. `dp_query_p95_ms`: differentially private counts, sums and means (bounded query in DuckDB,
   OpenDP noise) with random filters. The analyst's authorization, budget and audit record are
   not in this figure (one registry look-up, one row update, one append).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import sqlite3
import tempfile
import time
from pathlib import Path

from report import print_figures  # bench/report.py, beside this script

from crossroads.adapters.opendp_noise import OpenDpNoise
from crossroads.adapters.sql.audit_file import audit_path
from crossroads.adapters.sql.store import open_store
from crossroads.adapters.warehouse.duckdb import DuckDbWarehouse
from crossroads.domain.statistics.marts import MARTS
from crossroads.domain.statistics.pseudonyms import Pseudonymiser
from crossroads.domain.subjects import SubjectHasher
from crossroads.services.clock import Clock
from crossroads.services.statistics_extraction import ExtractionBasis, WarehouseExtraction
from crossroads.services.statistics_queries import AnalystQuery, Protection, StatisticsQueries

WAGES = """
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < :wages - 1)
INSERT INTO quarterly_wages (quarter, employer, inss, worker_code, gross, days, hours,
    joint_committees, declaration_id)
SELECT 20241 + (i / :persons) % 4, printf('0%09d', i / (:persons * 4)),
       printf('%011d', 85000000000 + i % :persons), printf('%03d', 15 + i % 3),
       200000 + (i * 7919) % 400000, 60, 456,
       '["' || (100 + (i * 31) % 40) || '"]', i / 10 + 1
FROM n
"""
DECLARATIONS = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :declarations)
INSERT INTO declarations (id, kind, form, employer, declarant, status, anomalies, summary,
    language, received_at_ms)
SELECT i, 'dmfa', 'dmfa', '0403170701', '0403170701', 'accepted', '[]', '{}', 'en',
       1735776000000 FROM n
"""
EXCHANGES = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :exchanges)
INSERT INTO audit_log (seq, at_ms, record)
SELECT i, 1735776000000 + i * 100, CAST(printf('{"at_ms":%d,"consumer":"%s","kind":"exchange",'
    || '"latency_us":%d,"outcome":"%s","purpose":"benefits","service":"%s",'
    || '"subject_hash":"%016x%016x","v":1}',
    1735776000000 + i * 100, printf('04%08d', i % 12), 500 + i % 5000,
    CASE WHEN i % 50 = 0 THEN 'no_authorization' ELSE 'ok' END,
    'service-' || (i % 9), i % :persons, i % :persons) AS BLOB)
FROM n
"""


# The same records in PostgreSQL.
PG_WAGES = """
INSERT INTO quarterly_wages (quarter, employer, inss, worker_code, gross, days, hours,
    joint_committees, declaration_id)
SELECT 20241 + (i / %(persons)s) %% 4, '0' || lpad((i / (%(persons)s * 4))::text, 9, '0'),
       lpad((85000000000 + i %% %(persons)s)::text, 11, '0'), lpad((15 + i %% 3)::text, 3, '0'),
       200000 + (i * 7919) %% 400000, 60, 456, '["' || (100 + (i * 31) %% 40) || '"]', i / 10 + 1
FROM generate_series(0::bigint, %(wages)s - 1) AS i
"""
PG_DECLARATIONS = """
INSERT INTO declarations (id, kind, form, employer, declarant, status, anomalies, summary,
    language, received_at_ms)
SELECT i, 'dmfa', 'dmfa', '0403170701', '0403170701', 'accepted', '[]', '{}', 'en',
       1735776000000 FROM generate_series(1::bigint, %(declarations)s) AS i
"""
PG_EXCHANGES = """
INSERT INTO audit_log (seq, at_ms, record)
SELECT i, 1735776000000 + i * 100, convert_to(format('{"at_ms":%%s,"consumer":"%%s",'
    || '"kind":"exchange","latency_us":%%s,"outcome":"%%s","purpose":"benefits",'
    || '"service":"%%s","subject_hash":"%%s%%s","v":1}',
    1735776000000 + i * 100, '04' || lpad((i %% 12)::text, 8, '0'), 500 + i %% 5000,
    CASE WHEN i %% 50 = 0 THEN 'no_authorization' ELSE 'ok' END, 'service-' || (i %% 9),
    lpad(to_hex(i %% %(persons)s), 16, '0'), lpad(to_hex(i %% %(persons)s), 16, '0')), 'UTF8')
FROM generate_series(1::bigint, %(exchanges)s) AS i
"""


def fill_params(records: int) -> dict[str, int]:
    wages = records // 2
    return {
        "wages": wages,
        "persons": max(wages // 8, 1),
        "declarations": (wages - 1) // 10 + 1,
        "exchanges": records - wages,
    }


def fill_postgres(url: str, records: int) -> None:
    import psycopg

    params = fill_params(records)
    with psycopg.connect(url, autocommit=True) as con:
        for statement in (PG_DECLARATIONS, PG_WAGES, PG_EXCHANGES):
            con.execute(statement, params)
        con.execute(
            "SELECT setval(pg_get_serial_sequence('audit_log', 'seq'), %s)", (params["exchanges"],)
        )
        con.execute("VACUUM ANALYZE")


def fill(path: Path, records: int) -> None:
    params = fill_params(records)
    con = sqlite3.connect(path)
    # The audit log's own file (adapters/sql/audit_file.py), where EXCHANGES finds audit_log.
    con.execute("ATTACH DATABASE ? AS audit", (audit_path(str(path)),))
    con.execute(DECLARATIONS, params)
    con.execute(WAGES, params)
    con.execute(EXCHANGES, params)
    con.commit()
    con.close()


def cpu_seconds() -> float:
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 2)


async def filled_store(records: int, kept: str | None, folder: str) -> str:
    """The store's URL, filled with `records` records unless it holds some already."""
    if kept and kept.startswith(("postgresql:", "postgres:")):
        store = await open_store(kept)
        empty = await store.audit.count() == 0
        await store.close()
        if empty:
            fill_postgres(kept, records)
        return kept
    path = Path(kept) if kept else Path(folder) / "hub.sqlite3"
    if not path.exists():
        store = await open_store(f"sqlite:///{path}")
        await store.close()
        fill(path, records)
    return f"sqlite:///{path}"


async def run(records: int, queries: int, kept: str | None) -> dict:
    errors = 0
    with tempfile.TemporaryDirectory() as folder:
        url = await filled_store(records, kept, folder)
        store = await open_store(url)
        warehouse = DuckDbWarehouse(Path(folder) / "warehouse.duckdb")
        extraction = WarehouseExtraction(
            store.statistics,
            warehouse,
            store.audit,
            Clock(),
            SubjectHasher(b"s" * 32),
            Pseudonymiser(b"w" * 32),
            ExtractionBasis("statistics", "bench"),
            5,
        )
        load_before = os.getloadavg()[0]
        started, cpu = time.perf_counter(), cpu_seconds()
        report = await extraction.run()
        extract_seconds = time.perf_counter() - started
        extract_cpu = cpu_seconds() - cpu
        load_after = os.getloadavg()[0]
        protection = Protection(5, 1000.0, 1.0, 10)  # the threshold the extraction decided at
        await warehouse.close()
        warehouse = DuckDbWarehouse(Path(folder) / "warehouse.duckdb")  # a worker, opened anew
        answers = StatisticsQueries(warehouse, None, None, None, None, Clock(), protection)  # type: ignore[arg-type]
        rng = random.Random(20)
        plain, private, first = [], [], []
        for name in ("employment", "exchanges"):
            mart = MARTS[name]
            t = time.perf_counter()
            await answers.suppressed(mart, AnalystQuery(name, "sum", mart.measures[0].name))
            first.append(time.perf_counter() - t)
        plain.extend(first)
        noise = OpenDpNoise()
        for _ in range(queries):
            name = rng.choice(("employment", "exchanges"))
            mart = MARTS[name]
            group = tuple(rng.sample(mart.dimensions, rng.randint(0, 2)))
            measure = mart.measures[0].name
            try:
                t = time.perf_counter()
                await answers.suppressed(mart, AnalystQuery(name, "sum", measure, group))
                plain.append(time.perf_counter() - t)
                filters = {"quarter": "2024Q2"} if name == "employment" else {"outcome": "ok"}
                t = time.perf_counter()
                count, total = await warehouse.aggregate(mart, measure, filters, 10)
                noise.integer(count, 10, 0.1)
                noise.integer(total, 10 * mart.measures[0].upper, 0.1)
                private.append(time.perf_counter() - t)
            except Exception:
                errors += 1
        await warehouse.close()
        await store.close()
    return {
        "store": url.split(":", 1)[0],
        "records": report.records["declarations"] + report.records["exchanges"],
        "extract_seconds": round(extract_seconds, 2),
        "extract_cpu_seconds": round(extract_cpu, 2),
        "load_average": [round(load_before, 2), round(load_after, 2)],
        "lattice_seconds": round(report.lattice_seconds, 2),
        "first_query_ms": round(max(first) * 1000, 2),
        "query_p95_ms": p95(plain),
        "dp_query_p95_ms": p95(private),
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--store",
        help="keep the filled SQLite store in this file, or reuse it; or a postgresql:// URL",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    print_figures(asyncio.run(run(args.records, args.queries, args.store)), args.json)


if __name__ == "__main__":
    main()
