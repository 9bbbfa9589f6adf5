-- The id token's type in the spelling OCPP 2.0.1 and OCPI share (ISO14443,
-- ISO15693, eMAID, KeyCode, Central, Local, MacAddress, NoAuthorization;
-- docs/adr/0012-id-tokens.md). Tokens stored before types existed get the
-- type their kind suggests, the same rule as IdTokenType::for_kind: an RFID
-- card is ISO14443, an app token Central (made up by the back office),
-- anything else Local.
ALTER TABLE id_tokens ADD COLUMN token_type TEXT NOT NULL DEFAULT 'ISO14443';
UPDATE id_tokens SET token_type = CASE kind
    WHEN 'app' THEN 'Central'
    WHEN 'other' THEN 'Local'
    ELSE 'ISO14443'
END;
