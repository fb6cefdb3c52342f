-- Outbound calls through a trunk: where it takes them (an address or host,
-- with an optional port), the digest credentials it challenges for, and the
-- number the called party sees.
ALTER TABLE voice_trunks ADD COLUMN outbound TEXT;
ALTER TABLE voice_trunks ADD COLUMN auth_username TEXT;
ALTER TABLE voice_trunks ADD COLUMN auth_password TEXT;
ALTER TABLE voice_trunks ADD COLUMN caller_id TEXT;
