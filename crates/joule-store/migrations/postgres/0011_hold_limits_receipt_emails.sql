-- Hold limits and receipt emails (docs/payments.md "Hold limits",
-- "Receipt emails"): when the hold-limit stop of a payment's session was
-- last sent (so it is sent once, not on every meter value), and the queue
-- that emails each captured payment's receipt exactly once.
ALTER TABLE payments ADD COLUMN hold_stop_requested_at TIMESTAMPTZ;

CREATE TABLE receipt_emails (
    payment_id          UUID PRIMARY KEY REFERENCES payments (id),
    -- Personal data: erased once the email is sent.
    address             TEXT,
    state               TEXT NOT NULL
                        CHECK (state IN ('waiting', 'due', 'sending', 'sent', 'failed')),
    attempts            INTEGER NOT NULL DEFAULT 0,
    resent_after_crash  BOOLEAN NOT NULL DEFAULT FALSE,
    next_attempt_at     TIMESTAMPTZ,
    claimed_at          TIMESTAMPTZ,
    sent_at             TIMESTAMPTZ,
    last_error          TEXT,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX receipt_emails_state ON receipt_emails (state, next_attempt_at);
