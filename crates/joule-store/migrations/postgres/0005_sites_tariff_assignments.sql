-- Sites (a time zone, a language, an address and an access rule for the
-- chargers that stand there) and tariff assignments: a tariff given to a
-- site, charger, connector, user group (optionally at one site) or id
-- token, for a validity window (docs/pricing.md, "Precedence").
CREATE TABLE sites (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    time_zone   TEXT NOT NULL,
    language    TEXT NOT NULL,
    address     JSONB NOT NULL,
    access      TEXT NOT NULL DEFAULT 'public',
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

-- The groups allowed at a private or restricted site.
CREATE TABLE site_groups (
    site_id     TEXT NOT NULL,
    group_id    TEXT NOT NULL,
    PRIMARY KEY (site_id, group_id)
);
CREATE INDEX site_groups_group ON site_groups (group_id);

ALTER TABLE chargers ADD COLUMN site_id TEXT;
CREATE INDEX chargers_site ON chargers (site_id);
-- Whether the charger's access rule was set explicitly (else its site's
-- applies). Chargers that already had a non-default rule keep it.
ALTER TABLE chargers ADD COLUMN access_set BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE chargers SET access_set = TRUE
    WHERE access <> 'public' OR id IN (SELECT charger_id FROM charger_groups);

CREATE TABLE tariff_assignments (
    id            TEXT PRIMARY KEY NOT NULL,
    tariff_id     TEXT NOT NULL,
    scope         TEXT NOT NULL,
    site_id       TEXT,
    charger_id    TEXT,
    connector_id  BIGINT,
    group_id      TEXT,
    id_tag        TEXT,
    id_tag_key    TEXT,
    valid_from    TIMESTAMPTZ,
    valid_until   TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX tariff_assignments_tariff ON tariff_assignments (tariff_id);
CREATE INDEX tariff_assignments_site ON tariff_assignments (site_id);
CREATE INDEX tariff_assignments_charger ON tariff_assignments (charger_id);
CREATE INDEX tariff_assignments_group ON tariff_assignments (group_id);
CREATE INDEX tariff_assignments_token ON tariff_assignments (id_tag_key);
