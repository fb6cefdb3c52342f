-- A trunk Switchboard registers with (1): the carrier then sends the
-- tenant's calls from its outbound address.
ALTER TABLE voice_trunks ADD COLUMN registration BIGINT NOT NULL DEFAULT 0;
