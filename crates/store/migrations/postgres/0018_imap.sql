-- IMAP mailboxes a tenant's mail is fetched from: where the server is,
-- the account (its password kept as given: it is needed to log in), the
-- folder, and the receiving address whose queue takes the mail. The rest
-- is the poller's: the folder's UIDVALIDITY and the highest UID taken
-- under it, when it is next due, a node's claim while it polls, and how
-- the last poll went.
CREATE TABLE imap_mailboxes (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    address TEXT NOT NULL,
    host TEXT NOT NULL,
    port BIGINT NOT NULL,
    security TEXT NOT NULL,
    username TEXT NOT NULL,
    password TEXT NOT NULL,
    folder TEXT NOT NULL,
    delete_after BIGINT NOT NULL,
    interval_seconds BIGINT NOT NULL,
    enabled BIGINT NOT NULL,
    uid_validity BIGINT,
    last_uid BIGINT NOT NULL DEFAULT 0,
    taken BIGINT NOT NULL DEFAULT 0,
    refused BIGINT NOT NULL DEFAULT 0,
    next_poll_at BIGINT NOT NULL,
    claimed_until BIGINT,
    last_polled_at BIGINT,
    last_error TEXT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX imap_mailboxes_tenant ON imap_mailboxes (tenant_id);
CREATE INDEX imap_mailboxes_due ON imap_mailboxes (next_poll_at);
