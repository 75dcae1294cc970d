"""The marts as DuckDB SQL over the extracts: the latest version of each record (of a rights
decision, its latest change: its answer once given; of a delivery, its latest change: a dead
letter replayed and delivered since counts as acknowledged, one dropped as dropped, one replayed
and not settled yet not at all), the dimensions as text (never NULL: '-'
stands for "not given", so that NULL in GROUP BY CUBE means "all"), and `contribution`, each
unit's rank among its person's units (bounding contributions for DP)."""

from __future__ import annotations

from ...domain.statistics.marts import MARTS

_QUARTER_OF_MS = (
    "strftime(to_timestamp({ms} / 1000), '%Y') || 'Q' || quarter(to_timestamp({ms} / 1000))"
)

BODIES = {
    "employment": """
        SELECT person, (quarter // 10)::VARCHAR || 'Q' || (quarter % 10)::VARCHAR AS quarter,
               coalesce(joint_committee, '-') AS joint_committee,
               coalesce(worker_code, '-') AS worker_code, gross, days
        FROM wages
        QUALIFY row_number() OVER (
            PARTITION BY person, quarter, employer, worker_code ORDER BY declaration_id DESC) = 1
    """,
    "jobs": """
        SELECT person, substr(start_date, 1, 4) || 'Q'
                   || ((substr(start_date, 6, 2)::INTEGER + 2) // 3)::VARCHAR AS start_quarter,
               coalesce(worker_type, '-') AS worker_type,
               coalesce(joint_committee, '-') AS joint_committee, coalesce(status, '-') AS status
        FROM periods
        QUALIFY row_number() OVER (PARTITION BY period_id ORDER BY declaration_id DESC) = 1
    """,
    "social_risks": f"""
        SELECT person, {_QUARTER_OF_MS.format(ms="at_ms")} AS quarter,
               coalesce(scenario, '-') AS scenario, coalesce(status, '-') AS status
        FROM social_risks
    """,
    "directory": """
        SELECT person, coalesce(capacity, '-') AS capacity,
               coalesce(institution, '-') AS institution,
               year(DATE '0001-01-01' + (valid_from - 1)::INTEGER)::VARCHAR AS since_year,
               CASE phase WHEN 1 THEN 'provisional' ELSE 'definitive' END AS phase
        FROM directory
    """,
    "exchanges": """
        SELECT coalesce(person, 'exchange:' || seq::VARCHAR) AS person,
               strftime(to_timestamp(at_ms / 1000), '%Y-%m') AS month,
               coalesce(service, '-') AS service, coalesce(consumer, '-') AS consumer,
               coalesce(purpose, '-') AS purpose, coalesce(outcome, '-') AS outcome,
               coalesce(latency_us, 0) // 1000 AS latency_ms
        FROM exchanges
    """,
    "deliveries": """
        SELECT person, strftime(to_timestamp(published_at_ms / 1000), '%Y-%m') AS month,
               coalesce(mutation_type, '-') AS mutation_type,
               coalesce(institution, '-') AS institution,
               CASE WHEN dead_at_ms IS NULL THEN 'acknowledged'
                    WHEN acked_at_ms IS NULL THEN 'given up' ELSE 'dropped' END AS state,
               greatest(coalesce(acked_at_ms, dead_at_ms) - published_at_ms, 0) AS delay_ms
        FROM (FROM deliveries
              QUALIFY row_number() OVER (PARTITION BY seq ORDER BY changed DESC) = 1) latest
        WHERE acked_at_ms IS NOT NULL OR dead_at_ms IS NOT NULL
    """,
    "rights": f"""
        SELECT person, {_QUARTER_OF_MS.format(ms="decided_at_ms")} AS quarter,
               coalesce(right_code, '-') AS right_code, coalesce(change, '-') AS change,
               coalesce(origin, '-') AS origin, coalesce(status, '-') AS status,
               coalesce(age_group, '-') AS age_group
        FROM rights
        QUALIFY row_number() OVER (PARTITION BY decision ORDER BY changed DESC) = 1
    """,
}

EXTRACTS = {
    "wages": "declaration_id BIGINT, quarter INTEGER, employer VARCHAR, person VARCHAR,"
    " worker_code VARCHAR, gross BIGINT, days INTEGER, joint_committee VARCHAR",
    "periods": "declaration_id BIGINT, period_id BIGINT, employer VARCHAR, person VARCHAR,"
    " worker_type VARCHAR, joint_committee VARCHAR, start_date VARCHAR, end_date VARCHAR,"
    " status VARCHAR",
    "social_risks": "declaration_id BIGINT, employer VARCHAR, person VARCHAR, scenario VARCHAR,"
    " status VARCHAR, at_ms BIGINT",
    "exchanges": "seq BIGINT, at_ms BIGINT, consumer VARCHAR, service VARCHAR, purpose VARCHAR,"
    " outcome VARCHAR, person VARCHAR, latency_us BIGINT",
    "deliveries": "changed BIGINT, seq BIGINT, institution VARCHAR, mutation_type VARCHAR,"
    " published_at_ms BIGINT, acked_at_ms BIGINT, dead_at_ms BIGINT, person VARCHAR",
    "directory": "person VARCHAR, institution VARCHAR, capacity VARCHAR, phase INTEGER,"
    " valid_from INTEGER, valid_to INTEGER",
    "rights": "changed BIGINT, decision VARCHAR, person VARCHAR, right_code VARCHAR,"
    " change VARCHAR, status VARCHAR, origin VARCHAR, age_group VARCHAR, decided_at_ms BIGINT",
}


# The extract each mart is built from: a mart is rebuilt when its extract changed.
SOURCES = {
    "employment": "wages",
    "jobs": "periods",
    "social_risks": "social_risks",
    "directory": "directory",
    "exchanges": "exchanges",
    "deliveries": "deliveries",
    "rights": "rights",
}


def materialise(name: str, table: str | None = None) -> str:
    """The statement that (re)builds mart `name` from the extracts as `table` (by default
    `mart_<name>`; a snapshot's is qualified by its database)."""
    mart = MARTS[name]
    order = ", ".join(mart.dimensions)
    return (
        f"CREATE OR REPLACE TABLE {table or f'mart_{name}'} AS SELECT *, row_number() OVER "
        f"(PARTITION BY person ORDER BY {order}) AS contribution FROM ({BODIES[name]}) units"
    )
