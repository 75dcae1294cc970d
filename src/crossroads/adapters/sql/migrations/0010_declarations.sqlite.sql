-- Employer declarations (issue 5): the employers' register and payroll offices' mandates, the
-- declarations received (DIMONA, DmfA, social risk) with their status and anomalies, the DIMONA
-- periods and quarterly wages they establish (the authentic source), the batch files, and the
-- declarations service's own outbox of mutations to publish (a row leaves it once published).
CREATE TABLE employers (
    company_id TEXT PRIMARY KEY,
    noss TEXT UNIQUE,
    name TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE mandates (
    office TEXT NOT NULL,
    employer TEXT NOT NULL REFERENCES employers(company_id),
    valid_from TEXT NOT NULL,
    valid_to TEXT,
    PRIMARY KEY (office, employer, valid_from)
);
CREATE TABLE declaration_batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    declarant TEXT NOT NULL,
    institution TEXT NOT NULL,
    kind TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    content_type TEXT NOT NULL,
    body BLOB,
    language TEXT NOT NULL,
    status TEXT NOT NULL,
    received_at_ms INTEGER NOT NULL,
    done_at_ms INTEGER,
    acknowledgement TEXT,
    UNIQUE (institution, sha256)
);
CREATE INDEX declaration_batches_waiting ON declaration_batches (status, id);
CREATE TABLE declarations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    form TEXT NOT NULL,
    employer TEXT,
    declarant TEXT NOT NULL,
    batch_id INTEGER REFERENCES declaration_batches(id),
    status TEXT NOT NULL,
    period_id INTEGER,
    inss TEXT,
    anomalies TEXT NOT NULL,
    summary TEXT NOT NULL,
    language TEXT NOT NULL,
    received_at_ms INTEGER NOT NULL
);
CREATE INDEX declarations_by_batch ON declarations (batch_id);
CREATE INDEX declarations_by_inss ON declarations (inss, kind);
CREATE TABLE dimona_periods (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    employer TEXT NOT NULL,
    inss TEXT NOT NULL,
    worker_type TEXT NOT NULL,
    joint_committee TEXT,
    start_date TEXT NOT NULL,
    end_date TEXT,
    status TEXT NOT NULL
);
CREATE INDEX dimona_periods_by_worker ON dimona_periods (inss, employer);
CREATE INDEX dimona_periods_by_employer ON dimona_periods (employer, start_date);
CREATE TABLE quarterly_wages (
    quarter INTEGER NOT NULL,
    employer TEXT NOT NULL,
    inss TEXT NOT NULL,
    worker_code TEXT NOT NULL,
    gross INTEGER NOT NULL,
    days INTEGER NOT NULL,
    hours INTEGER NOT NULL,
    joint_committees TEXT NOT NULL,
    declaration_id INTEGER NOT NULL,
    PRIMARY KEY (inss, quarter, employer, worker_code)
);
CREATE TABLE declaration_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    mutation_id TEXT NOT NULL UNIQUE,
    mutation_type TEXT NOT NULL,
    subject TEXT NOT NULL,
    effective_date TEXT NOT NULL,
    payload TEXT NOT NULL
);
