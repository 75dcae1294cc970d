-- Browser sessions on the server (docs/security.md, "Browser sessions"): the citizen's, the
-- portal's and the operator's cookies name a row here, read on every request that uses the
-- session and deleted when it signs out, so that a copy of the cookie ends with it. `id` is the
-- SHA-256 of the cookie's random session id; `identity` the SHA-256 of whom it was opened for;
-- `ends_at` (Unix seconds) the absolute end, by which the rows of expired sessions are deleted.
CREATE TABLE browser_sessions (
    id TEXT PRIMARY KEY,
    audience TEXT NOT NULL,
    identity TEXT NOT NULL,
    ends_at BIGINT NOT NULL
);
CREATE INDEX browser_sessions_ends_at ON browser_sessions (ends_at);
