-- The deliveries mart read by the deliveries' changes (issue 20, docs/statistics.md "The
-- deliveries mart"): `changed` is drawn at each change of a delivery (acknowledged, delivered,
-- dead, replayed, dropped) as the highest one plus the row's rank in its statement, under
-- SQLite's one writer at a time, so the numbers commit in the order they are drawn and the
-- extraction reads by number alone. NULL while a delivery waits for its first push or
-- acknowledgement: the insert path draws nothing, and the partial index holds only the changed
-- rows. Deliveries settled before this migration take their outbox order (seq).
ALTER TABLE deliveries ADD COLUMN changed INTEGER;
UPDATE deliveries SET changed = o.n
  FROM (SELECT seq, row_number() OVER (ORDER BY seq) AS n FROM deliveries
        WHERE acked_at_ms IS NOT NULL OR dead_at_ms IS NOT NULL) o
  WHERE deliveries.seq = o.seq;
CREATE UNIQUE INDEX deliveries_changes ON deliveries (changed) WHERE changed IS NOT NULL;
