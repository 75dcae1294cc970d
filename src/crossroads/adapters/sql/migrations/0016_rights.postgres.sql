-- Rights (issue 21): the rights engine's decisions, each with its explanation (the rule's outcome,
-- the facts and where they came from), the competent institution and its answer.
CREATE TABLE rights_decisions (
    id TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    subject_key BYTEA NOT NULL,
    subject TEXT NOT NULL,
    right_code TEXT NOT NULL,
    change TEXT NOT NULL,
    competent TEXT,
    status TEXT NOT NULL,
    decided_at_ms BIGINT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX rights_decisions_by_subject ON rights_decisions (subject_key, right_code, seq);
CREATE INDEX rights_decisions_by_competent ON rights_decisions (competent, status, seq);
CREATE INDEX rights_decisions_by_right ON rights_decisions (right_code, seq);
