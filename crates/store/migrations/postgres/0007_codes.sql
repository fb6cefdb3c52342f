-- Reason codes (why an agent is away) and disposition codes (how a contact
-- ended), chosen from lists the centre keeps. Codes are retired, never
-- deleted, so old contacts and reports keep their meaning.
CREATE TABLE work_codes (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    kind TEXT NOT NULL,
    code TEXT NOT NULL,
    label TEXT NOT NULL,
    active BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (tenant_id, kind, code)
);
