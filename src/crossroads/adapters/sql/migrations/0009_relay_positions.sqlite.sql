-- Mutations over NATS JetStream (issue 4): how far the relay has fed the outbox's push deliveries
-- into the stream. Rows are fed in seq order, which is commit order (publishing takes the outbox
-- lock on PostgreSQL), so one number per relay says what is in the stream.
CREATE TABLE relay_positions (
    name TEXT PRIMARY KEY,
    position BIGINT NOT NULL
);
