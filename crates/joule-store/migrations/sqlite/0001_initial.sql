-- Joule initial schema (SQLite).
-- Timestamps are TEXT in fixed-width RFC 3339 UTC with microseconds
-- (YYYY-MM-DDTHH:MM:SS.ffffffZ), so text order is time order.

CREATE TABLE chargers (
    id                        TEXT PRIMARY KEY NOT NULL,
    label                     TEXT,
    location                  TEXT,
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
    booted_at                 TEXT,
    last_heartbeat_at         TEXT,
    connected                 INTEGER NOT NULL DEFAULT 0,
    protocol                  TEXT,
    connected_at              TEXT,
    disconnected_at           TEXT,
    last_seen_at              TEXT,
    firmware_status           TEXT,
    diagnostics_status        TEXT,
    created_at                TEXT NOT NULL,
    updated_at                TEXT NOT NULL
);

CREATE TABLE connector_states (
    charger_id         TEXT NOT NULL REFERENCES chargers (id) ON DELETE CASCADE,
    connector_id       INTEGER NOT NULL,
    status             TEXT NOT NULL,
    error_code         TEXT,
    info               TEXT,
    vendor_id          TEXT,
    vendor_error_code  TEXT,
    since              TEXT NOT NULL,
    PRIMARY KEY (charger_id, connector_id)
);

-- History outlives the charger: no foreign key.
CREATE TABLE status_history (
    id                 INTEGER PRIMARY KEY,
    charger_id         TEXT NOT NULL,
    connector_id       INTEGER NOT NULL,
    status             TEXT NOT NULL,
    error_code         TEXT,
    info               TEXT,
    vendor_id          TEXT,
    vendor_error_code  TEXT,
    reported_at        TEXT,
    received_at        TEXT NOT NULL,
    effective_at       TEXT NOT NULL
);
CREATE INDEX status_history_connector ON status_history (charger_id, connector_id, effective_at);
CREATE INDEX status_history_charger ON status_history (charger_id, effective_at);

CREATE TABLE id_tokens (
    id_tag_key        TEXT PRIMARY KEY NOT NULL,
    id_tag            TEXT NOT NULL,
    kind              TEXT NOT NULL,
    status            TEXT NOT NULL,
    expires_at        TEXT,
    parent_id_tag     TEXT,
    allowed_chargers  TEXT NOT NULL DEFAULT '[]',
    label             TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE INDEX id_tokens_parent ON id_tokens (upper(parent_id_tag));

CREATE TABLE sessions (
    transaction_id       INTEGER PRIMARY KEY AUTOINCREMENT CHECK (transaction_id <= 2147483647),
    id                   TEXT NOT NULL UNIQUE,
    charger_id           TEXT NOT NULL,
    connector_id         INTEGER NOT NULL,
    id_tag               TEXT NOT NULL,
    id_tag_key           TEXT NOT NULL,
    start_authorization  TEXT NOT NULL,
    state                TEXT NOT NULL,
    reservation_id       INTEGER,
    started_at           TEXT NOT NULL,
    meter_start_wh       INTEGER NOT NULL,
    stopped_at           TEXT,
    meter_stop_wh        INTEGER,
    stop_reason          TEXT,
    stop_id_tag          TEXT,
    last_meter_at        TEXT,
    last_meter_wh        INTEGER,
    peak_power_w         INTEGER,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL,
    -- A resent StartTransaction carries the same values: the idempotency key.
    UNIQUE (charger_id, connector_id, id_tag_key, started_at, meter_start_wh)
);
CREATE INDEX sessions_started ON sessions (started_at);
CREATE INDEX sessions_charger ON sessions (charger_id, started_at);
CREATE INDEX sessions_id_tag ON sessions (id_tag_key, started_at);

-- One row per meter sample (a MeterValues `meterValue` entry or a
-- transactionData entry): its sampled values, verbatim, as a JSON array.
CREATE TABLE meter_samples (
    id              INTEGER PRIMARY KEY,
    session_id      TEXT,
    charger_id      TEXT NOT NULL,
    connector_id    INTEGER NOT NULL,
    transaction_id  INTEGER,
    timestamp       TEXT NOT NULL,
    sampled_values  TEXT NOT NULL,
    received_at     TEXT NOT NULL
);
CREATE INDEX meter_samples_session ON meter_samples (session_id, timestamp);

CREATE TABLE message_log (
    id          INTEGER PRIMARY KEY,
    charger_id  TEXT NOT NULL,
    direction   TEXT NOT NULL,
    kind        TEXT NOT NULL,
    action      TEXT,
    message_id  TEXT,
    frame       TEXT NOT NULL,
    note        TEXT,
    at          TEXT NOT NULL
);
CREATE INDEX message_log_charger ON message_log (charger_id, id);

CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL UNIQUE,
    secret_hash  TEXT NOT NULL,
    scopes       TEXT NOT NULL,
    created_at   TEXT NOT NULL
);

CREATE TABLE events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT NOT NULL,
    charger_id   TEXT,
    session_id   TEXT,
    payload      TEXT NOT NULL,
    occurred_at  TEXT NOT NULL,
    recorded_at  TEXT NOT NULL
);
