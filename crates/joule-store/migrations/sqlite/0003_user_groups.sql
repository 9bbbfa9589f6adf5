-- User groups, which tokens belong to them, and who may charge where.
-- A charger's access is public (anyone), private or restricted (only tokens
-- in one of its allowed groups); see joule-domain's user_group module.
CREATE TABLE user_groups (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

-- Token memberships; id_tag_key is the case-folded id tag of id_tokens.
CREATE TABLE token_groups (
    id_tag_key  TEXT NOT NULL,
    group_id    TEXT NOT NULL,
    PRIMARY KEY (id_tag_key, group_id)
);
CREATE INDEX token_groups_group ON token_groups (group_id);

ALTER TABLE chargers ADD COLUMN access TEXT NOT NULL DEFAULT 'public';

-- The groups allowed at a private or restricted charger.
CREATE TABLE charger_groups (
    charger_id  TEXT NOT NULL,
    group_id    TEXT NOT NULL,
    PRIMARY KEY (charger_id, group_id)
);
CREATE INDEX charger_groups_group ON charger_groups (group_id);
