-- The declarations an institution's applications sent, newest first (the employer's list in the
-- portal, `declarations_of`): the declarant is the application's client id, "institution:app"
-- (or "operator"), and the list is an institution's, as `declared_by` reads it. The column is the
-- part before the first colon, kept by SQLite itself (a virtual column costs no space in the
-- table, only in the index), so that the list is an equality walked along this index newest
-- first, stopping after a page. `declarant LIKE 'institution:%'` had no index to use: it walked
-- the table backwards from the newest declaration until it had a page, the whole table for an
-- institution that sent fewer (52 to 77 ms a page at 200,000 declarations; docs/benchmarks.md).
ALTER TABLE declarations ADD COLUMN declarant_institution TEXT
    GENERATED ALWAYS AS (substr(declarant, 1, instr(declarant || ':', ':') - 1)) VIRTUAL;
CREATE INDEX declarations_by_declarant_institution ON declarations (declarant_institution, id);
