-- Which pinned peer hub each institution registered for a peer belongs to (docs/federation.md,
-- "What a pin trusts"): a peer's request is answered only for a member recorded for that very
-- peer. NULL: a member of this hub's own. An upgraded store records none for a peer, so every
-- peer's requests are refused (not_peer_member) until the operator records the peers' members
-- (`crossroads federation member PEER NUMBER`): a peer is never trusted with a member by default.
ALTER TABLE institutions ADD COLUMN peer TEXT;
