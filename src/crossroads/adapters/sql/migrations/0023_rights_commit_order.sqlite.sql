-- The rights mart read incrementally in commit order (issue 20, docs/statistics.md "The rights
-- mart"): `changed` is drawn anew at each change of a decision (insert or answer) as the
-- highest one plus one, under SQLite's one writer at a time, so the numbers commit in the order
-- they are drawn and the extraction reads by number alone. Decisions stored before this
-- migration take their order of storing (seq).
ALTER TABLE rights_decisions ADD COLUMN changed INTEGER NOT NULL DEFAULT 0;
UPDATE rights_decisions SET changed = o.n
  FROM (SELECT id, row_number() OVER (ORDER BY seq, id) AS n FROM rights_decisions) o
  WHERE rights_decisions.id = o.id;
CREATE UNIQUE INDEX rights_decisions_commit_order ON rights_decisions (changed);
