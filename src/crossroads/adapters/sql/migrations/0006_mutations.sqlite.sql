-- Mutations (issue 4): the types authentic sources publish, the subscriptions of institutions'
-- applications, the accepted mutations, and the outbox of deliveries (one row per recipient).
CREATE TABLE mutation_types (
    code TEXT NOT NULL,
    version TEXT NOT NULL,
    name TEXT NOT NULL,
    publisher TEXT NOT NULL REFERENCES institutions(enterprise_number),
    payload_schema TEXT NOT NULL,
    description TEXT NOT NULL,
    fields TEXT NOT NULL,
    PRIMARY KEY (code, version)
);
CREATE TABLE subscriptions (
    id TEXT PRIMARY KEY,
    institution TEXT NOT NULL,
    application TEXT NOT NULL,
    mutation_type TEXT NOT NULL,
    authorization_ref TEXT NOT NULL,
    mode TEXT NOT NULL,
    webhook_url TEXT,
    created_at_ms INTEGER NOT NULL
);
CREATE UNIQUE INDEX subscriptions_one_per_type ON subscriptions (institution, application, mutation_type);
CREATE INDEX subscriptions_by_type ON subscriptions (mutation_type);
-- A mutation id is the publisher's: the same id published twice is accepted once. The digest
-- (SHA-256 of the mutation as accepted) tells a retry from a different mutation under a used id.
CREATE TABLE mutations (
    publisher TEXT NOT NULL,
    id TEXT NOT NULL,
    mutation_type TEXT NOT NULL,
    version TEXT NOT NULL,
    subject_key BLOB NOT NULL,
    effective_day INTEGER NOT NULL,
    digest BLOB NOT NULL,
    recipients INTEGER NOT NULL,
    published_at_ms INTEGER NOT NULL,
    PRIMARY KEY (publisher, id)
);
-- The outbox: written in the publishing transaction, so an accepted mutation's deliveries exist
-- as soon as its publisher has the answer. The message is the CloudEvent as the recipient gets it
-- (only its authorized fields).
CREATE TABLE deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription TEXT NOT NULL,
    publisher TEXT NOT NULL,
    mutation_id TEXT NOT NULL,
    subject_key BLOB NOT NULL,
    message BLOB NOT NULL,
    acked_at_ms INTEGER
);
CREATE INDEX deliveries_pending ON deliveries (subscription, seq) WHERE acked_at_ms IS NULL;
