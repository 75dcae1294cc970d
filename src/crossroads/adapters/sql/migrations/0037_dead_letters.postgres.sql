-- The dead letters not yet closed, in two indexes that hold them alone: by number (the operator's
-- list, all members') and by subscription and number (an institution's page, a subscription's
-- deletion). deliveries_dead (0007), keyed by the time of death, gave neither order. On SQLite
-- the operator's list walked the whole outbox in number order when it held few dead letters or
-- none (12-25 ms for 200,000 waiting rows, 0.04 ms along deliveries_dead_by_seq); on PostgreSQL
-- the operator's list and an institution's page read every member's dead letters and sorted
-- them. Both indexes hold only what dies, so a delivery's insert and acknowledgement do not touch
-- them. The old index is dropped last: a DROP INDEX locks the table against reads until the
-- migration commits, and the builds before it would have held every read of the outbox.
CREATE INDEX deliveries_dead_of ON deliveries (subscription, seq)
    WHERE dead_at_ms IS NOT NULL AND acked_at_ms IS NULL;
CREATE INDEX deliveries_dead_by_seq ON deliveries (seq)
    WHERE dead_at_ms IS NOT NULL AND acked_at_ms IS NULL;
DROP INDEX deliveries_dead;
