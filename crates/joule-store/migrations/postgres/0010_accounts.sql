-- Driver accounts (docs/payments.md, "Accounts"): a saved card at the
-- gateway (references, brand, last 4 and expiry only: never a card number),
-- linked id tokens, card-saving requests, and one charge line per session
-- charged to an account (pending, paid or debt).
CREATE TABLE accounts (
    id                    UUID PRIMARY KEY,
    email                 TEXT NOT NULL,
    name                  TEXT NOT NULL,
    language              TEXT NOT NULL,
    currency              TEXT NOT NULL,
    customer_gateway      TEXT,
    customer_ref          TEXT,
    card_gateway          TEXT,
    card_customer_ref     TEXT,
    card_payment_method   TEXT,
    card_brand            TEXT,
    card_last4            TEXT,
    card_exp_month        INTEGER,
    card_exp_year         INTEGER,
    card_saved_at         TIMESTAMPTZ,
    created_at            TIMESTAMPTZ NOT NULL,
    updated_at            TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX accounts_email ON accounts (lower(email));

-- A token belongs to at most one account; sessions it starts after
-- `linked_at` are charged to that account.
CREATE TABLE account_tokens (
    id_tag_key  TEXT PRIMARY KEY NOT NULL,
    id_tag      TEXT NOT NULL,
    account_id  UUID NOT NULL REFERENCES accounts (id),
    linked_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX account_tokens_account ON account_tokens (account_id);

CREATE TABLE account_card_setups (
    token          TEXT PRIMARY KEY NOT NULL,
    account_id     UUID NOT NULL REFERENCES accounts (id),
    gateway        TEXT NOT NULL,
    setup_ref      TEXT NOT NULL,
    client_secret  TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    completed_at   TIMESTAMPTZ,
    UNIQUE (gateway, setup_ref)
);

-- One line per session: a session is charged to an account once.
CREATE TABLE account_charges (
    session_id    UUID PRIMARY KEY,
    account_id    UUID NOT NULL REFERENCES accounts (id),
    amount_minor  BIGINT NOT NULL CHECK (amount_minor >= 0),
    currency      TEXT NOT NULL,
    status        TEXT NOT NULL,
    payment_id    UUID,
    debt_since    TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX account_charges_account ON account_charges (account_id, created_at);
CREATE INDEX account_charges_status ON account_charges (status, created_at);
