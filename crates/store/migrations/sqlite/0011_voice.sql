-- The numbers a tenant's callers dial (E.164), each to a queue. A number
-- belongs to one tenant only.
CREATE TABLE voice_numbers (
    number TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    queue_id TEXT NOT NULL REFERENCES queues(id),
    updated_at BIGINT NOT NULL
);
CREATE INDEX voice_numbers_tenant ON voice_numbers (tenant_id);

-- Carrier trunks: the addresses (JSON array of CIDR blocks) a tenant's
-- calls may come from. Calls from anywhere else are refused.
CREATE TABLE voice_trunks (
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    sources TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

-- Agents' phones: a SIP username (unique across tenants) and the digest
-- HA1 hashes for MD5 and SHA-256; the password itself is never stored.
CREATE TABLE agent_phones (
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    agent_id TEXT NOT NULL REFERENCES agents(id),
    username TEXT NOT NULL UNIQUE,
    ha1_md5 TEXT NOT NULL,
    ha1_sha256 TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, agent_id)
);

-- Call recordings: files in the data directory, with size and checksum.
CREATE TABLE recordings (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    contact_id TEXT NOT NULL REFERENCES contacts(id),
    path TEXT NOT NULL,
    bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    channels BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    paused_ms BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    ended_at BIGINT NOT NULL
);
CREATE INDEX recordings_contact ON recordings (tenant_id, contact_id);
