-- Core vocabulary (DESIGN.md section 2). Ids are UUIDv7 text, instants are
-- epoch milliseconds, booleans are 0/1 integers: the same column types as the
-- PostgreSQL schema so one set of queries runs on both.

CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    time_zone TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    email TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT,
    roles TEXT NOT NULL,
    active BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX users_tenant ON users(tenant_id, id);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX api_tokens_tenant ON api_tokens(tenant_id, id);

CREATE TABLE skills (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE agents (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    user_id TEXT NOT NULL UNIQUE REFERENCES users(id),
    display_name TEXT NOT NULL,
    capacity_voice BIGINT NOT NULL,
    capacity_email BIGINT NOT NULL,
    capacity_chat BIGINT NOT NULL,
    capacity_sms BIGINT NOT NULL,
    voice_blocks_others BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX agents_tenant ON agents(tenant_id, id);

CREATE TABLE agent_skills (
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    agent_id TEXT NOT NULL REFERENCES agents(id),
    skill_id TEXT NOT NULL REFERENCES skills(id),
    proficiency BIGINT NOT NULL CHECK (proficiency BETWEEN 1 AND 10),
    PRIMARY KEY (agent_id, skill_id)
);
CREATE INDEX agent_skills_skill ON agent_skills(tenant_id, skill_id);

CREATE TABLE queues (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    strategy TEXT NOT NULL,
    priority BIGINT NOT NULL,
    service_level_seconds BIGINT NOT NULL,
    service_level_target_pct BIGINT NOT NULL,
    max_wait_seconds BIGINT,
    wrap_up_seconds BIGINT NOT NULL,
    routing_rules TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE customers (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    status TEXT NOT NULL,
    external_ref TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX customers_tenant ON customers(tenant_id, id);
CREATE INDEX customers_email ON customers(tenant_id, email);
CREATE INDEX customers_phone ON customers(tenant_id, phone);

CREATE TABLE customer_status_history (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    customer_id TEXT NOT NULL REFERENCES customers(id),
    from_status TEXT,
    to_status TEXT NOT NULL,
    changed_at BIGINT NOT NULL,
    changed_by TEXT
);
CREATE INDEX customer_status_history_customer ON customer_status_history(tenant_id, customer_id, id);

CREATE TABLE contacts (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    channel TEXT NOT NULL,
    direction TEXT NOT NULL,
    queue_id TEXT NOT NULL REFERENCES queues(id),
    customer_id TEXT REFERENCES customers(id),
    agent_id TEXT REFERENCES agents(id),
    state TEXT NOT NULL,
    priority BIGINT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',
    from_address TEXT,
    to_address TEXT,
    reason TEXT,
    disposition TEXT,
    notes TEXT NOT NULL DEFAULT '',
    arrived_at BIGINT NOT NULL,
    queued_at BIGINT,
    first_reserved_at BIGINT,
    answered_at BIGINT,
    hold_ms BIGINT NOT NULL DEFAULT 0,
    wrap_started_at BIGINT,
    wrap_ended_at BIGINT,
    ended_at BIGINT,
    abandoned_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX contacts_tenant ON contacts(tenant_id, id);
CREATE INDEX contacts_queue ON contacts(tenant_id, queue_id, id);
CREATE INDEX contacts_customer ON contacts(tenant_id, customer_id, id);

-- The append-only event log. `seq` orders all events of the store (a rowid:
-- events are never deleted, so it only grows).
CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX events_tenant ON events(tenant_id, seq);

-- Who changed what, when, from where.
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    at BIGINT NOT NULL,
    actor_user_id TEXT,
    actor_kind TEXT NOT NULL,
    action TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    source TEXT NOT NULL,
    details TEXT NOT NULL
);
CREATE INDEX audit_log_tenant ON audit_log(tenant_id, id);

-- The event log and the audit log are append-only.
CREATE TRIGGER events_no_update BEFORE UPDATE ON events BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
