-- The declarations an institution's applications sent, newest first (the employer's list in the
-- portal, `declarations_of`): the declarant is the application's client id, "institution:app"
-- (or "operator"), and the list is an institution's, as `declared_by` reads it. The column is the
-- part before the first colon, kept by PostgreSQL itself, so that the list is an equality walked
-- along this index newest first, stopping after a page. `declarant LIKE 'institution:%'` had no
-- index to use: for an institution that sent few declarations the planner scanned the whole table
-- and sorted (50 to 73 ms a page at 200,000 declarations; docs/benchmarks.md). Adding the column
-- rewrites the table once, under its lock.
ALTER TABLE declarations ADD COLUMN declarant_institution TEXT
    GENERATED ALWAYS AS (split_part(declarant, ':', 1)) STORED;
CREATE INDEX declarations_by_declarant_institution ON declarations (declarant_institution, id);
