-- The index behind "who consulted my data", led by the entry's bucket of 16,384 numbers (seq >> 14).
-- Keyed by the hash alone, every append landed on a random page of an index far larger than a
-- batch, and those page writes were most of an append's cost at millions of entries; now a
-- batch writes into the last bucket's few hundred pages. A lookup seeks once per bucket
-- (SqlTransparencyLog.about_subject). The 14 there and here must agree.
DROP INDEX audit_log_subject;
CREATE INDEX audit_log_subject_bucket ON audit_log ((seq >> 14), subject_hash, seq) WHERE subject_hash IS NOT NULL;
