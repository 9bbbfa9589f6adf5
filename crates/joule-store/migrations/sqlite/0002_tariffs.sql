-- Tariffs: the OCPI 2.2.1 Tariff JSON as given (body) and Joule's
-- extensions beside it, keyed by the OCPI tariff id; version goes up by one
-- on each full replacement.
CREATE TABLE tariffs (
    id          TEXT PRIMARY KEY NOT NULL,
    body        TEXT NOT NULL,
    extensions  TEXT NOT NULL,
    version     INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

-- One row: which tariff is the default (NULL: none).
CREATE TABLE tariff_settings (
    singleton          INTEGER PRIMARY KEY NOT NULL CHECK (singleton = 1),
    default_tariff_id  TEXT,
    updated_at         TEXT
);
INSERT INTO tariff_settings (singleton, default_tariff_id, updated_at) VALUES (1, NULL, NULL);
