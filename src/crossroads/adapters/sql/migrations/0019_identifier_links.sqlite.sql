-- Identifier links with peer hubs (issue 19, docs/federation.md): this hub's identifier of a
-- person and the one a peer hub knows them by, as the authority designated for that peer
-- recorded it. One link per person and peer, in each direction.
CREATE TABLE identifier_links (
    peer TEXT NOT NULL,
    local_id TEXT NOT NULL,
    remote_id TEXT NOT NULL,
    authority TEXT NOT NULL,
    recorded_at_ms BIGINT NOT NULL,
    PRIMARY KEY (peer, local_id)
);
CREATE UNIQUE INDEX identifier_links_by_remote ON identifier_links (peer, remote_id);
