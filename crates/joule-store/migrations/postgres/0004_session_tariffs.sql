-- Frozen prices (NEVI): every version of a tariff is kept, immutable, and a
-- session records the tariff version in force when it started, so editing
-- or replacing a tariff never changes the price of a session.
CREATE TABLE tariff_versions (
    tariff_id   TEXT NOT NULL,
    version     BIGINT NOT NULL,
    body        JSONB NOT NULL,
    extensions  JSONB NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tariff_id, version)
);
INSERT INTO tariff_versions (tariff_id, version, body, extensions, created_at)
    SELECT id, version, body, extensions, updated_at FROM tariffs;

ALTER TABLE sessions ADD COLUMN tariff_id TEXT, ADD COLUMN tariff_version BIGINT;

-- A charger-level tariff, taking precedence over the default when a
-- session starts (docs/pricing.md, "Precedence").
ALTER TABLE chargers ADD COLUMN tariff_id TEXT;
