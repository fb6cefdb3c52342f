-- SMS: the numbers a tenant receives texts at, each to a queue (a number
-- belongs to one tenant only); the tenant's provider account (the token is
-- kept as given: signatures are checked and messages sent with it; the API
-- never returns it); customers who texted STOP.
CREATE TABLE sms_numbers (
    number TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    queue_id TEXT NOT NULL REFERENCES queues(id),
    updated_at BIGINT NOT NULL
);
CREATE INDEX sms_numbers_tenant ON sms_numbers (tenant_id);
CREATE TABLE sms_accounts (
    tenant_id TEXT PRIMARY KEY REFERENCES tenants(id),
    provider TEXT NOT NULL,
    account_sid TEXT NOT NULL,
    auth_token TEXT NOT NULL,
    api_base TEXT NOT NULL,
    webhook_url TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE sms_opt_outs (
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    number TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, number)
);
-- Which channel a message went by (email before this); texts waiting to
-- be sent are found by their own index.
ALTER TABLE messages ADD COLUMN channel TEXT NOT NULL DEFAULT 'email';
CREATE INDEX messages_due_channel ON messages (status, channel, next_attempt_at);
