-- The addresses a tenant receives email at, each to a queue, with the name
-- replies are sent under. An address belongs to one tenant only.
CREATE TABLE email_addresses (
    address TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    queue_id TEXT NOT NULL REFERENCES queues(id),
    display_name TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX email_addresses_tenant ON email_addresses (tenant_id);

-- A customer's issue in writing: every message about it, across the
-- contacts it took (a reply after one was closed reopens it as another).
-- The reference is the short code in its subjects.
CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    channel TEXT NOT NULL,
    reference TEXT NOT NULL,
    address TEXT NOT NULL,
    customer_address TEXT NOT NULL,
    customer_name TEXT,
    subject TEXT NOT NULL,
    queue_id TEXT NOT NULL REFERENCES queues(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX conversations_reference ON conversations (tenant_id, reference);

-- Messages in and out. An inbound message is stored, with its contact's id,
-- before its contact is created and before the sender is told it arrived;
-- an outbound one is stored `pending` and sent by the delivery worker
-- (`sent`, or `failed` after its attempts).
CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    contact_id TEXT NOT NULL,
    direction TEXT NOT NULL,
    message_id TEXT NOT NULL,
    in_reply_to TEXT,
    from_address TEXT NOT NULL,
    from_name TEXT,
    to_address TEXT NOT NULL,
    subject TEXT NOT NULL,
    text_body TEXT NOT NULL,
    html_body TEXT,
    remote_images_blocked BIGINT NOT NULL DEFAULT 0,
    automatic TEXT,
    author_user_id TEXT,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    last_error TEXT,
    sent_at BIGINT,
    -- An outbound message as sent (RFC 5322, 7-bit).
    raw TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX messages_message_id ON messages (tenant_id, message_id);
CREATE INDEX messages_contact ON messages (tenant_id, contact_id);
CREATE INDEX messages_conversation ON messages (tenant_id, conversation_id);
CREATE INDEX messages_due ON messages (status, next_attempt_at);

-- Files that came with (or go with) a message, kept in the data directory
-- under attachments/<tenant>/<id> with their size and SHA-256.
CREATE TABLE attachments (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    message_id TEXT NOT NULL REFERENCES messages(id),
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX attachments_message ON attachments (tenant_id, message_id);

-- What an agent signs their replies with.
ALTER TABLE agents ADD COLUMN signature TEXT;
