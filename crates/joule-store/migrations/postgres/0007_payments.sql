-- Payments and their exactly-once gateway steps (docs/payments.md), and
-- stored responses of money-moving API calls (Idempotency-Key).
-- Amounts are integer minor units of `currency`.
CREATE TABLE payments (
    id                   UUID PRIMARY KEY,
    channel              TEXT NOT NULL,
    gateway              TEXT NOT NULL,
    gateway_payment_ref  TEXT,
    currency             TEXT NOT NULL,
    authorized_minor     BIGINT NOT NULL DEFAULT 0,
    captured_minor       BIGINT NOT NULL DEFAULT 0,
    refunded_minor       BIGINT NOT NULL DEFAULT 0,
    state                TEXT NOT NULL,
    card_brand           TEXT,
    card_last4           TEXT,
    card_exp_month       INTEGER,
    card_exp_year        INTEGER,
    charger_id           TEXT NOT NULL,
    connector_id         INTEGER NOT NULL,
    session_id           UUID,
    account_id           TEXT,
    terminal_id          TEXT,
    hold_limit_policy    TEXT NOT NULL,
    receipt_token        TEXT NOT NULL UNIQUE,
    language             TEXT NOT NULL,
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL,
    CHECK (captured_minor <= authorized_minor AND refunded_minor <= captured_minor)
);
CREATE UNIQUE INDEX payments_gateway_ref ON payments (gateway, gateway_payment_ref)
    WHERE gateway_payment_ref IS NOT NULL;
CREATE INDEX payments_created ON payments (created_at);
CREATE INDEX payments_session ON payments (session_id) WHERE session_id IS NOT NULL;
CREATE INDEX payments_charger ON payments (charger_id, created_at);
CREATE INDEX payments_state ON payments (state, updated_at);

CREATE TABLE payment_steps (
    payment_id       UUID NOT NULL REFERENCES payments (id),
    seq              INTEGER NOT NULL,
    kind             TEXT NOT NULL,
    amount_minor     BIGINT NOT NULL,
    idempotency_key  TEXT NOT NULL UNIQUE,
    status           TEXT NOT NULL,
    failure_code     TEXT,
    failure_message  TEXT,
    gateway_ref      TEXT,
    intended_at      TIMESTAMPTZ NOT NULL,
    finished_at      TIMESTAMPTZ,
    PRIMARY KEY (payment_id, seq)
);
-- At most one step in progress per payment, whatever the code does.
CREATE UNIQUE INDEX payment_steps_one_open ON payment_steps (payment_id)
    WHERE status = 'intended';
CREATE INDEX payment_steps_intended ON payment_steps (intended_at);

CREATE TABLE api_idempotency (
    scope            TEXT NOT NULL,
    key              TEXT NOT NULL,
    request_hash     TEXT NOT NULL,
    response_status  INTEGER,
    response_body    JSONB,
    created_at       TIMESTAMPTZ NOT NULL,
    completed_at     TIMESTAMPTZ,
    PRIMARY KEY (scope, key)
);
