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
-- One row per merged period. The primary key is the lookup path of every exchange (subject,
-- institution); WITHOUT ROWID keeps the table and that index one and the same B-tree.
CREATE TABLE integrations (
    subject_key BLOB NOT NULL,
    institution TEXT NOT NULL,
    capacity TEXT NOT NULL,
    phase INTEGER NOT NULL,
    valid_from INTEGER NOT NULL,
    valid_to INTEGER,
    PRIMARY KEY (subject_key, institution, capacity, phase, valid_from)
) WITHOUT ROWID;
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    subject_hash BLOB,
    record BLOB NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject_hash, seq) WHERE subject_hash IS NOT NULL;
CREATE TABLE client_assertions (
    jti TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
