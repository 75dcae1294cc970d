-- The same index of the deliveries still due as PostgreSQL's (0022), per subscription in outbox
-- order, holding neither delivered rows nor dead letters. deliveries_pending (0006) held a
-- subscription's dead letters too, and the reads of what is still due (the push workers' due
-- read, the heads that /ready and /metrics read) walked past every one of them, on the event
-- loop that serves every other member: over 200,000 deliveries of a webhook that failed them
-- all, 55-89 ms a due read and 54-88 ms a read of the heads (0.02 and 0.24 ms along this index).
-- deliveries_pending is dropped by 0037, once the dead letters have an index of their own.
CREATE INDEX deliveries_due ON deliveries (subscription, seq)
    WHERE acked_at_ms IS NULL AND dead_at_ms IS NULL;
