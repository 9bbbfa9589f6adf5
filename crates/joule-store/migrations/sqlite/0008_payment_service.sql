-- The payment service (docs/payments.md "Web payment flow", "Recovery and
-- sweeper"): the OCPP id tag a web payment's remote start carries, and the
-- durable positions of outbox consumers.
ALTER TABLE payments ADD COLUMN id_tag TEXT;
-- One payment per id tag: the tag is how a started session finds its payment.
CREATE UNIQUE INDEX payments_id_tag ON payments (id_tag) WHERE id_tag IS NOT NULL;

CREATE TABLE consumer_cursors (
    name           TEXT PRIMARY KEY NOT NULL,
    last_event_id  INTEGER NOT NULL,
    updated_at     TEXT NOT NULL
);
