-- "Raise hand": an agent asks a team leader for help, usually on a contact
-- in hand; a team leader answers.
CREATE TABLE help_requests (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    agent_id TEXT NOT NULL REFERENCES agents(id),
    contact_id TEXT REFERENCES contacts(id),
    question TEXT NOT NULL,
    state TEXT NOT NULL,
    answer TEXT,
    answered_by TEXT,
    created_at BIGINT NOT NULL,
    answered_at BIGINT
);
CREATE INDEX help_requests_open ON help_requests(tenant_id, state, id);
