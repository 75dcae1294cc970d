-- Reports of wrong data (issue 18): a citizen says a piece of data about them is wrong; the report
-- waits for the authentic source that holds it, which reads it with its application's token and
-- closes it with an answer the citizen sees.
CREATE TABLE data_reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    service TEXT NOT NULL,
    subject TEXT NOT NULL,
    subject_hash TEXT NOT NULL,
    message TEXT NOT NULL,
    received_at_ms INTEGER NOT NULL,
    closed_at_ms INTEGER,
    answer TEXT
);
CREATE INDEX data_reports_by_source ON data_reports (source, id);
CREATE INDEX data_reports_by_subject ON data_reports (subject_hash, id);
