-- What each agent chose to be (available, away with a reason, offline):
-- the routing engine restores it on start. Busy and wrap-up follow from
-- the agent's contacts and are not stored here.
CREATE TABLE agent_states (
    agent_id TEXT PRIMARY KEY REFERENCES agents(id),
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    presence TEXT NOT NULL,
    reason TEXT,
    since BIGINT NOT NULL
);
CREATE INDEX agent_states_tenant ON agent_states(tenant_id);
-- Only open contacts are indexed: the routing engine reads them on start.
CREATE INDEX contacts_open ON contacts(tenant_id, arrived_at) WHERE state NOT IN ('ended', 'abandoned');
