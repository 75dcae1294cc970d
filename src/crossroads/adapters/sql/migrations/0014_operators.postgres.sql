-- Operators (issue 17): people who sign in through OpenID Connect (person:SUBJECT) and service
-- accounts with their own keys (service:NAME), each with roles; four-eyes proposals waiting for a
-- second operator's approval.
CREATE TABLE operators (
    id TEXT PRIMARY KEY,
    roles TEXT NOT NULL,
    active INTEGER NOT NULL,
    jwks TEXT,
    token_epoch TEXT NOT NULL
);
CREATE TABLE proposals (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    action TEXT NOT NULL,
    key TEXT NOT NULL,
    body TEXT NOT NULL,
    proposed_by TEXT NOT NULL,
    proposed_at_ms BIGINT NOT NULL,
    state TEXT NOT NULL,
    decided_by TEXT,
    decided_at_ms BIGINT,
    reason TEXT
);
CREATE INDEX proposals_by_state ON proposals (state, proposed_at_ms);
