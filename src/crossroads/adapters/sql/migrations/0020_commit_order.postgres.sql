-- Statistics in commit order (issue 20, docs/statistics.md "In commit order"): a declaration id
-- or an audit sequence number is drawn when its row is inserted, not when it commits, so a
-- reader that moved past number n may later find a lower one committed. Each row now records
-- the transaction that wrote it (xid8): the warehouse's extraction reads these two streams by
-- (transaction, number), and only below the oldest transaction still running, where no row can
-- appear any more. Rows written before this migration all committed already (ALTER TABLE waits
-- for every transaction writing the table): they take transaction 0 and stay in number order,
-- so a warehouse's position (0, n) goes on from where it was. The deliveries need no column:
-- their numbers are drawn under the outbox's lock, held to the commit (mutations.py).
ALTER TABLE declarations ADD COLUMN xact_id xid8 NOT NULL DEFAULT '0';
ALTER TABLE declarations ALTER COLUMN xact_id SET DEFAULT pg_current_xact_id();
CREATE INDEX declarations_commit_order ON declarations (xact_id, id);
ALTER TABLE audit_log ADD COLUMN xact_id xid8 NOT NULL DEFAULT '0';
ALTER TABLE audit_log ALTER COLUMN xact_id SET DEFAULT pg_current_xact_id();
CREATE INDEX audit_log_commit_order ON audit_log (xact_id, seq);
