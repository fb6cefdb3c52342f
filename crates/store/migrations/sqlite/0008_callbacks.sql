-- Callbacks booked for a later time: at `due_at` the contact `contact_id`
-- is created in `queue_id` (kept for `agent_id` when personal) and routed
-- like any other. `releasing` marks a claim by one node; a claim older
-- than a minute is taken over, and the contact's fixed id keeps a second
-- release from creating it twice.
CREATE TABLE scheduled_callbacks (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    contact_id TEXT NOT NULL,
    origin_contact_id TEXT,
    customer_id TEXT,
    queue_id TEXT NOT NULL REFERENCES queues(id),
    agent_id TEXT REFERENCES agents(id),
    phone TEXT,
    notes TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    state TEXT NOT NULL,
    booked_by TEXT,
    claimed_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX scheduled_callbacks_due ON scheduled_callbacks(state, due_at);
CREATE INDEX scheduled_callbacks_tenant ON scheduled_callbacks(tenant_id, state, due_at);
