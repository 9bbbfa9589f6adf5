-- Joule initial schema (PostgreSQL). Same tables and columns as the SQLite
-- migration of the same number; timestamps are TIMESTAMPTZ.

CREATE TABLE chargers (
    id                        TEXT PRIMARY KEY,
    label                     TEXT,
    location                  JSONB,
    registration              TEXT NOT NULL,
    password_hash             TEXT,
    boot_vendor               TEXT,
    boot_model                TEXT,
    boot_charge_point_serial  TEXT,
    boot_charge_box_serial    TEXT,
    boot_firmware_version     TEXT,
    boot_iccid                TEXT,
    boot_imsi                 TEXT,
    boot_meter_type           TEXT,
    boot_meter_serial         TEXT,
    booted_at                 TIMESTAMPTZ,
    last_heartbeat_at         TIMESTAMPTZ,
    connected                 BOOLEAN NOT NULL DEFAULT FALSE,
    protocol                  TEXT,
    connected_at              TIMESTAMPTZ,
    disconnected_at           TIMESTAMPTZ,
    last_seen_at              TIMESTAMPTZ,
    firmware_status           TEXT,
    diagnostics_status        TEXT,
    created_at                TIMESTAMPTZ NOT NULL,
    updated_at                TIMESTAMPTZ NOT NULL
);

CREATE TABLE connector_states (
    charger_id         TEXT NOT NULL REFERENCES chargers (id) ON DELETE CASCADE,
    connector_id       INTEGER NOT NULL,
    status             TEXT NOT NULL,
    error_code         TEXT,
    info               TEXT,
    vendor_id          TEXT,
    vendor_error_code  TEXT,
    since              TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (charger_id, connector_id)
);

-- History outlives the charger: no foreign key.
CREATE TABLE status_history (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    charger_id         TEXT NOT NULL,
    connector_id       INTEGER NOT NULL,
    status             TEXT NOT NULL,
    error_code         TEXT,
    info               TEXT,
    vendor_id          TEXT,
    vendor_error_code  TEXT,
    reported_at        TIMESTAMPTZ,
    received_at        TIMESTAMPTZ NOT NULL,
    effective_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX status_history_connector ON status_history (charger_id, connector_id, effective_at);
CREATE INDEX status_history_charger ON status_history (charger_id, effective_at);

CREATE TABLE id_tokens (
    id_tag_key        TEXT PRIMARY KEY,
    id_tag            TEXT NOT NULL,
    kind              TEXT NOT NULL,
    status            TEXT NOT NULL,
    expires_at        TIMESTAMPTZ,
    parent_id_tag     TEXT,
    allowed_chargers  JSONB NOT NULL DEFAULT '[]',
    label             TEXT,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX id_tokens_parent ON id_tokens (upper(parent_id_tag));

CREATE TABLE sessions (
    -- OCPP 1.6 transaction ids are JSON integers many chargers keep in 32 bits.
    transaction_id       BIGINT GENERATED ALWAYS AS IDENTITY (MAXVALUE 2147483647) PRIMARY KEY,
    id                   UUID NOT NULL UNIQUE,
    charger_id           TEXT NOT NULL,
    connector_id         INTEGER NOT NULL,
    id_tag               TEXT NOT NULL,
    id_tag_key           TEXT NOT NULL,
    start_authorization  TEXT NOT NULL,
    state                TEXT NOT NULL,
    reservation_id       BIGINT,
    started_at           TIMESTAMPTZ NOT NULL,
    meter_start_wh       BIGINT NOT NULL,
    stopped_at           TIMESTAMPTZ,
    meter_stop_wh        BIGINT,
    stop_reason          TEXT,
    stop_id_tag          TEXT,
    last_meter_at        TIMESTAMPTZ,
    last_meter_wh        BIGINT,
    peak_power_w         BIGINT,
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL,
    -- A resent StartTransaction carries the same values: the idempotency key.
    UNIQUE (charger_id, connector_id, id_tag_key, started_at, meter_start_wh)
);
CREATE INDEX sessions_started ON sessions (started_at);
CREATE INDEX sessions_charger ON sessions (charger_id, started_at);
CREATE INDEX sessions_id_tag ON sessions (id_tag_key, started_at);

-- One row per meter sample (a MeterValues `meterValue` entry or a
-- transactionData entry): its sampled values, verbatim, as a JSON array.
CREATE TABLE meter_samples (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id      UUID,
    charger_id      TEXT NOT NULL,
    connector_id    INTEGER NOT NULL,
    transaction_id  BIGINT,
    timestamp       TIMESTAMPTZ NOT NULL,
    sampled_values  JSONB NOT NULL,
    received_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX meter_samples_session ON meter_samples (session_id, timestamp);

CREATE TABLE message_log (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    charger_id  TEXT NOT NULL,
    direction   TEXT NOT NULL,
    kind        TEXT NOT NULL,
    action      TEXT,
    message_id  TEXT,
    frame       TEXT NOT NULL,
    note        TEXT,
    at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX message_log_charger ON message_log (charger_id, id);

CREATE TABLE api_keys (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL UNIQUE,
    secret_hash  TEXT NOT NULL,
    scopes       TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE events (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         TEXT NOT NULL,
    charger_id   TEXT,
    session_id   UUID,
    payload      JSONB NOT NULL,
    occurred_at  TIMESTAMPTZ NOT NULL,
    recorded_at  TIMESTAMPTZ NOT NULL
);
