-- A number's IVR menu (JSON: greeting prompt, keys to queues, wait,
-- business hours and the prompt played outside them); NULL for none.
ALTER TABLE voice_numbers ADD COLUMN menu TEXT;

-- Recorded prompts (8 kHz mono WAV files in the data directory) that menus
-- play, by name.
CREATE TABLE voice_prompts (
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    path TEXT NOT NULL,
    bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    duration_ms BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);
