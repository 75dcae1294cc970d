-- Batch files as a fair, bounded queue (issue 15): a file is known by its institution, its kind
-- and its SHA-256 (the same bytes sent as a DmfA and as a DIMONA are two files); each file
-- records its size (for the per-institution quota), how many times a worker started on it and
-- when it last did (to end a file that keeps stopping its worker, and to take institutions in
-- turn), and whether it ended in a failure of the hub's (such a file may be sent again).
-- SQLite cannot drop the former UNIQUE (institution, sha256), so the table is rebuilt, with the
-- file's body as its last column: SQLite reaches a column stored after a large value by walking
-- that value's overflow pages, and reading a waiting 100 MB file's status did (half a second on
-- the event loop). The table keeps its name: foreign keys are checked at the commit, by which
-- time every batch a declaration names is back with its id (a table renamed into place would
-- leave SQLite counting those as broken).
PRAGMA defer_foreign_keys = ON;
CREATE TABLE declaration_batches_0010 AS SELECT * FROM declaration_batches;
DROP TABLE declaration_batches;
CREATE TABLE declaration_batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    declarant TEXT NOT NULL,
    institution TEXT NOT NULL,
    kind TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes INTEGER NOT NULL DEFAULT 0,
    language TEXT NOT NULL,
    status TEXT NOT NULL,
    received_at_ms INTEGER NOT NULL,
    done_at_ms INTEGER,
    acknowledgement TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    started_at_ms INTEGER,
    failed INTEGER NOT NULL DEFAULT 0,
    body BLOB
);
INSERT INTO declaration_batches (id, declarant, institution, kind, sha256, content_type, body, size_bytes, language,
                                 status, received_at_ms, done_at_ms, acknowledgement)
    SELECT id, declarant, institution, kind, sha256, content_type, body, COALESCE(length(body), 0), language, status,
           received_at_ms, done_at_ms, acknowledgement FROM declaration_batches_0010;
DROP TABLE declaration_batches_0010;
CREATE UNIQUE INDEX declaration_batches_identity ON declaration_batches (institution, kind, sha256) WHERE failed = 0;
CREATE INDEX declaration_batches_waiting ON declaration_batches (status, institution, id);
CREATE INDEX declaration_batches_turns ON declaration_batches (institution, started_at_ms);
