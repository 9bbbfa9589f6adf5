-- The driver's language (ISO 639-1, lower case) on their id token: the
-- texts a charger shows them are written in it (docs/pricing.md,
-- "Languages"). NULL: not known, the site's or English applies.
ALTER TABLE id_tokens ADD COLUMN language TEXT;
