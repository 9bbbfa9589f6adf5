-- Payment terminals (docs/terminals.md): one card terminal, or a vendor's
-- cloud speaking for it, that starts many chargers. A terminal starts every
-- charger of its site (scope 'site') or the chargers and connectors listed
-- in `targets` (scope 'chargers', a JSON array of
-- {"charger_id": …, "connector_id": n | null}). Its API key is stored like
-- an API key: a unique lookup prefix and the SHA-256 of the whole key.
CREATE TABLE terminals (
    id             TEXT PRIMARY KEY NOT NULL,
    name           TEXT NOT NULL,
    site_id        TEXT,
    scope          TEXT NOT NULL,
    targets        JSONB,
    gateway        TEXT NOT NULL,
    enabled        BOOLEAN NOT NULL DEFAULT TRUE,
    key_prefix     TEXT UNIQUE,
    key_hash       TEXT,
    key_issued_at  TIMESTAMPTZ,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX terminals_site ON terminals (site_id);

-- A terminal's payments, newest first.
CREATE INDEX payments_terminal ON payments (terminal_id, created_at)
    WHERE terminal_id IS NOT NULL;
