"""The statistics warehouse: DuckDB, embedded (duckdb.py), with the marts' SQL (marts_sql.py)."""
