-- The requests peer hubs signed that this hub accepted (issue 19, docs/federation.md), shared by
-- every process of the hub so that a request replayed to another process is refused too. Each
-- row lives while the request's signature is valid; rows past `expires_at` are deleted.
CREATE TABLE seen_requests (
    request TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX seen_requests_by_expiry ON seen_requests (expires_at);
