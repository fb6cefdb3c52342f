-- Web chat: a tenant's chat widgets (what a website embeds: the queue its
-- chats go to, the sites allowed to embed it, the address transcripts are
-- sent from), and customers' chat sessions (the session's secret kept as
-- its SHA-256 only). Conversations and messages are the written channels',
-- with `channel = 'chat'`.
CREATE TABLE chat_widgets (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    queue_id TEXT NOT NULL REFERENCES queues(id),
    allowed_origins TEXT NOT NULL,
    transcript_from TEXT,
    greeting TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX chat_widgets_tenant ON chat_widgets (tenant_id);
CREATE TABLE chat_sessions (
    token_sha256 TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    widget_id TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX chat_sessions_conversation ON chat_sessions (tenant_id, conversation_id);
