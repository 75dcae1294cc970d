-- Plans of the hot writes that no statistics can turn into a scan of a whole table.
--
-- crossroads_audit_append (0033) asks whether entries wait unindexed: a probe of the partial
-- index audit_log_unsequenced, which is empty while every append indexes its entries. PL/pgSQL
-- keeps a plan per connection from its first call; made on a table of a few pages, or after an
-- ANALYZE that saw entries waiting (a rolling upgrade), that plan reads the whole table instead,
-- looking for a row that is not there, under the sequencer's lock that every appender waits for
-- (auto_explain in `bench mutations --store postgres --backend nats`: 4-13 ms a call on 40,000 to
-- 60,000 entries, the appenders waiting 3.8 ms on average for the lock). Every statement of the
-- function has an index to follow (the probe and the catch-up the partial index, the size
-- audit_log_leaf, the rows the primary key, the tree's edge merkle_nodes' key), so the function
-- plans without sequential scans, whatever its connection last saw. A later CREATE OR REPLACE of
-- the function drops this setting unless it says it again.
ALTER FUNCTION crossroads_audit_append(
    BIGINT[], BYTEA[], BYTEA[], BYTEA[], BIGINT, INTEGER, INTEGER
) SET enable_seqscan = off;

-- deliveries_pending (0006) served no read once deliveries_due (0022) took the due reads: each
-- delivery only paid for it at its insert, and an acknowledgement left a dead entry in it. Worse,
-- the acknowledgements' updates (`seq = ANY(…) AND acked_at_ms IS NULL`) matched its condition,
-- and on an outbox without fresh statistics the planner ANDed it with the primary key: a walk
-- of every entry it still held (37,000 for an update of 1,000 rows) on each update. Without it
-- those updates follow the primary key only; a subscription's deletion reads its waiting
-- deliveries by deliveries_due and its dead letters by deliveries_dead (mutations.py).
DROP INDEX deliveries_pending;
