-- The audit log as a Merkle tree (RFC 9162): each entry gets its leaf index from the sequencer,
-- the hash of every complete subtree is kept (level 0: the leaves), and signed tree heads.
ALTER TABLE audit_log ADD COLUMN leaf_index INTEGER;
CREATE UNIQUE INDEX audit_log_leaf ON audit_log (leaf_index) WHERE leaf_index IS NOT NULL;
CREATE INDEX audit_log_unsequenced ON audit_log (seq) WHERE leaf_index IS NULL;
CREATE TABLE merkle_nodes (
    level INTEGER NOT NULL,
    position INTEGER NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (level, position)
) WITHOUT ROWID;
CREATE TABLE tree_heads (
    tree_size INTEGER PRIMARY KEY,
    root_hash BLOB NOT NULL,
    timestamp_ms INTEGER NOT NULL,
    signature TEXT NOT NULL
);
