CREATE TABLE institutions (
    enterprise_number TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    member_class TEXT NOT NULL,
    base_url TEXT
);
CREATE TABLE applications (
    institution TEXT NOT NULL REFERENCES institutions(enterprise_number) ON DELETE CASCADE,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    jwks TEXT NOT NULL,
    active INTEGER NOT NULL,
    PRIMARY KEY (institution, code)
);
CREATE TABLE capacities (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE TABLE services (
    code TEXT NOT NULL,
    version TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    provider TEXT REFERENCES institutions(enterprise_number),
    routed_capacity TEXT REFERENCES capacities(code),
    path TEXT NOT NULL,
    request_schema TEXT NOT NULL,
    response_schema TEXT NOT NULL,
    response_fields TEXT NOT NULL,
    PRIMARY KEY (code, version)
);
CREATE TABLE authorizations (
    reference TEXT PRIMARY KEY,
    consumer TEXT NOT NULL REFERENCES institutions(enterprise_number),
    service TEXT NOT NULL,
    purpose TEXT NOT NULL,
    legal_basis TEXT NOT NULL,
    required_capacities TEXT NOT NULL,
    allowed_fields TEXT NOT NULL,
    valid_from INTEGER NOT NULL,
    valid_to INTEGER
);
CREATE INDEX authorizations_lookup ON authorizations (consumer, service, purpose);
-- Partitioned by the keyed hash of the person from the start, so that a country that outgrows one
-- server moves partitions out (or to Citus) without rewriting the table: docs/deployment.md.
CREATE TABLE integrations (
    subject_key BYTEA NOT NULL,
    institution TEXT NOT NULL,
    capacity TEXT NOT NULL,
    phase SMALLINT NOT NULL,
    valid_from INTEGER NOT NULL,
    valid_to INTEGER,
    PRIMARY KEY (subject_key, institution, capacity, phase, valid_from)
) PARTITION BY HASH (subject_key);
CREATE TABLE integrations_p0 PARTITION OF integrations FOR VALUES WITH (MODULUS 8, REMAINDER 0);
CREATE TABLE integrations_p1 PARTITION OF integrations FOR VALUES WITH (MODULUS 8, REMAINDER 1);
CREATE TABLE integrations_p2 PARTITION OF integrations FOR VALUES WITH (MODULUS 8, REMAINDER 2);
CREATE TABLE integrations_p3 PARTITION OF integrations FOR VALUES WITH (MODULUS 8, REMAINDER 3);
CREATE TABLE integrations_p4 PARTITION OF integrations FOR VALUES WITH (MODULUS 8, REMAINDER 4);
CREATE TABLE integrations_p5 PARTITION OF integrations FOR VALUES WITH (MODULUS 8, REMAINDER 5);
CREATE TABLE integrations_p6 PARTITION OF integrations FOR VALUES WITH (MODULUS 8, REMAINDER 6);
CREATE TABLE integrations_p7 PARTITION OF integrations FOR VALUES WITH (MODULUS 8, REMAINDER 7);
CREATE TABLE audit_log (
    seq BIGSERIAL PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    subject_hash BYTEA,
    record BYTEA NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject_hash, seq) WHERE subject_hash IS NOT NULL;
CREATE TABLE client_assertions (
    jti TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
