-- Batch files as a fair, bounded queue (issue 15): a file is known by its institution, its kind
-- and its SHA-256 (the same bytes sent as a DmfA and as a DIMONA are two files); each file
-- records its size (for the per-institution quota), how many times a worker started on it and
-- when it last did (to end a file that keeps stopping its worker, and to take institutions in
-- turn), and whether it ended in a failure of the hub's (such a file may be sent again).
ALTER TABLE declaration_batches DROP CONSTRAINT IF EXISTS declaration_batches_institution_sha256_key;
ALTER TABLE declaration_batches ADD COLUMN size_bytes BIGINT NOT NULL DEFAULT 0;
ALTER TABLE declaration_batches ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE declaration_batches ADD COLUMN started_at_ms BIGINT;
ALTER TABLE declaration_batches ADD COLUMN failed SMALLINT NOT NULL DEFAULT 0;
UPDATE declaration_batches SET size_bytes = octet_length(body) WHERE body IS NOT NULL;
CREATE UNIQUE INDEX declaration_batches_identity ON declaration_batches (institution, kind, sha256) WHERE failed = 0;
DROP INDEX IF EXISTS declaration_batches_waiting;
CREATE INDEX declaration_batches_waiting ON declaration_batches (status, institution, id);
CREATE INDEX declaration_batches_turns ON declaration_batches (institution, started_at_ms);
