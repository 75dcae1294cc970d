-- Segments of the audit log written by `crossroads audit export`: leaf indexes [start_index,
-- end_index), each ending at a signed tree head, and whether `crossroads audit prune` has since
-- removed its entries from the live store (the largest pruned end is where the live log begins).
CREATE TABLE audit_segments (
    start_index BIGINT PRIMARY KEY,
    end_index BIGINT NOT NULL UNIQUE,
    file_name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    exported_at_ms BIGINT NOT NULL,
    pruned_at_ms BIGINT
);
