-- The rights mart read incrementally in commit order (issue 20, docs/statistics.md "The rights
-- mart"): a decision changes after it is taken (the competent institution's answer), so the
-- statistics stream is not the decisions' insertion but their changes. `changed` is drawn anew
-- at each change (insert or answer) from a sequence, and `xact_id` is the transaction that made
-- the change (xid8, as in migration 0020): the extraction reads by (xact_id, changed) below the
-- oldest transaction still running, and an answered decision comes again with its answer.
-- Decisions stored before this migration take their order of storing (seq) and transaction 0
-- (ALTER TABLE waits for every transaction writing the table: all of them committed).
CREATE SEQUENCE rights_decisions_changed;
ALTER TABLE rights_decisions ADD COLUMN changed BIGINT;
UPDATE rights_decisions SET changed = o.n
  FROM (SELECT id, row_number() OVER (ORDER BY seq, id) AS n FROM rights_decisions) o
  WHERE rights_decisions.id = o.id;
SELECT setval('rights_decisions_changed',
  COALESCE((SELECT max(changed) FROM rights_decisions), 0) + 1, false);
ALTER TABLE rights_decisions ALTER COLUMN changed SET DEFAULT nextval('rights_decisions_changed');
ALTER TABLE rights_decisions ALTER COLUMN changed SET NOT NULL;
ALTER TABLE rights_decisions ADD COLUMN xact_id xid8 NOT NULL DEFAULT '0';
ALTER TABLE rights_decisions ALTER COLUMN xact_id SET DEFAULT pg_current_xact_id();
CREATE INDEX rights_decisions_commit_order ON rights_decisions (xact_id, changed);
