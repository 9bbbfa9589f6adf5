-- One owner at a time for each payment (issue 9; docs/payments.md "One
-- owner at a time"): the claim an actor holds while it acts on a payment,
-- checked in the transaction of every step it records; and the remote
-- starts sent for a hold, so one hold gets one start.
CREATE TABLE payment_claims (
    payment_id  UUID PRIMARY KEY REFERENCES payments (id),
    owner       TEXT NOT NULL,
    token       UUID NOT NULL,
    claimed_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE payment_starts (
    payment_id        UUID PRIMARY KEY REFERENCES payments (id),
    status            TEXT NOT NULL
                      CHECK (status IN ('sending', 'accepted', 'refused', 'unreachable', 'unanswered')),
    attempts          INTEGER NOT NULL,
    may_have_started  BOOLEAN NOT NULL,
    first_at          TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL
);

-- Payments Joule could not bring to an end by itself (a capture the gateway
-- refused, a cost it cannot compute): flagged for an operator; the workers
-- leave them alone.
CREATE TABLE payment_flags (
    payment_id  UUID PRIMARY KEY REFERENCES payments (id),
    reason      TEXT NOT NULL,
    detail      TEXT NOT NULL,
    flagged_at  TIMESTAMPTZ NOT NULL
);
