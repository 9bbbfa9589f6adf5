-- Frozen prices (NEVI): every version of a tariff is kept, immutable, and a
-- session records the tariff version in force when it started, so editing
-- or replacing a tariff never changes the price of a session.
CREATE TABLE tariff_versions (
    tariff_id   TEXT NOT NULL,
    version     INTEGER NOT NULL,
    body        TEXT NOT NULL,
    extensions  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (tariff_id, version)
);
INSERT INTO tariff_versions (tariff_id, version, body, extensions, created_at)
    SELECT id, version, body, extensions, updated_at FROM tariffs;

ALTER TABLE sessions ADD COLUMN tariff_id TEXT;
ALTER TABLE sessions ADD COLUMN tariff_version INTEGER;

-- A charger-level tariff, taking precedence over the default when a
-- session starts (docs/pricing.md, "Precedence").
ALTER TABLE chargers ADD COLUMN tariff_id TEXT;
