-- Tariffs: the OCPI 2.2.1 Tariff JSON as given (body) and Joule's
-- extensions beside it, keyed by the OCPI tariff id; version goes up by one
-- on each full replacement.
CREATE TABLE tariffs (
    id          TEXT PRIMARY KEY,
    body        JSONB NOT NULL,
    extensions  JSONB NOT NULL,
    version     BIGINT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

-- One row: which tariff is the default (NULL: none).
CREATE TABLE tariff_settings (
    singleton          INTEGER PRIMARY KEY CHECK (singleton = 1),
    default_tariff_id  TEXT,
    updated_at         TIMESTAMPTZ
);
INSERT INTO tariff_settings (singleton, default_tariff_id, updated_at) VALUES (1, NULL, NULL);
