-- The pushes still due, per subscription in outbox order: `due_pushes` walks this index and stops
-- after a batch. With only deliveries_pending (whose condition leaves out dead letters) the
-- planner took a bitmap scan of a subscription's whole backlog and a sort while the outbox had no
-- statistics (214-236 ms per batch of 1,000 with 27,000 waiting), and the primary key, walking
-- every delivered row first, once it had them (145-280 ms): a batch's read grew with the backlog.
CREATE INDEX deliveries_due ON deliveries (subscription, seq)
    WHERE acked_at_ms IS NULL AND dead_at_ms IS NULL;
