-- The same indexes of waiting deliveries as PostgreSQL's (0022, 0034): one of the deliveries
-- still due, per subscription in outbox order, and none that holds dead letters among them.
-- deliveries_pending (0006) held a subscription's dead letters too, and the reads that want only
-- what is still due (the push workers' due read, the heads that /ready and /metrics read, a
-- mailbox's page) walked past every one of them: with a million dead letters of one member's
-- failing webhook, 112 ms a due read and 139 ms a read of the heads, on the event loop that
-- serves every other member (0.05 and 0.10 ms along this index). Dead letters are read by
-- deliveries_dead (0007); the statements that settle deliveries by their numbers follow the
-- primary key.
CREATE INDEX deliveries_due ON deliveries (subscription, seq)
    WHERE acked_at_ms IS NULL AND dead_at_ms IS NULL;
DROP INDEX deliveries_pending;
