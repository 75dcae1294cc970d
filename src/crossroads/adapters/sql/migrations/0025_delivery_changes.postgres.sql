-- The deliveries mart read by the deliveries' changes (issue 20, docs/statistics.md "The
-- deliveries mart"): a dead letter may later be replayed (then delivered, or dead again) or
-- dropped, so the statistics stream is not the outbox's order but its state changes. `changed`
-- is drawn from a sequence at each change (acknowledged, delivered, dead, replayed, dropped), and
-- `xact_id` is the transaction that made it (xid8, as in migration 0020): the extraction reads
-- the changes by (xact_id, changed) below the oldest transaction still running. Both stay NULL
-- while a delivery waits for its first push or acknowledgement: the insert path draws nothing,
-- and the partial index holds only the changed rows. Deliveries settled before this migration
-- take their outbox order (seq) and transaction 0 (ALTER TABLE waits for every transaction
-- writing the table: all of them committed).
CREATE SEQUENCE deliveries_changed;
ALTER TABLE deliveries ADD COLUMN changed BIGINT;
ALTER TABLE deliveries ADD COLUMN xact_id xid8;
UPDATE deliveries SET changed = o.n, xact_id = '0'
  FROM (SELECT seq, row_number() OVER (ORDER BY seq) AS n FROM deliveries
        WHERE acked_at_ms IS NOT NULL OR dead_at_ms IS NOT NULL) o
  WHERE deliveries.seq = o.seq;
SELECT setval('deliveries_changed', COALESCE((SELECT max(changed) FROM deliveries), 0) + 1, false);
CREATE INDEX deliveries_changes ON deliveries (xact_id, changed) WHERE changed IS NOT NULL;
