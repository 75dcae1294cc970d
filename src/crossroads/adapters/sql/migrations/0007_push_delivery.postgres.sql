-- Push delivery (issue 4): each outbox row counts its attempts, waits until its next one, and is
-- set aside as a dead letter after the last; the operator sees dead letters and can replay them.
ALTER TABLE deliveries ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN next_attempt_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN last_error TEXT;
ALTER TABLE deliveries ADD COLUMN dead_at_ms BIGINT;
CREATE INDEX deliveries_dead ON deliveries (dead_at_ms, seq) WHERE dead_at_ms IS NOT NULL;
