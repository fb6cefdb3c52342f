-- What each agent is contracted to work: paid minutes per week (at least,
-- at most) and when in the week they are available, as JSON
-- {"monday": [["08:00", "18:00"]], ...} in the tenant's zone.
CREATE TABLE agent_contracts (
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    agent_id TEXT NOT NULL REFERENCES agents(id),
    min_minutes BIGINT NOT NULL,
    max_minutes BIGINT NOT NULL,
    availability TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, agent_id)
);

-- A roster: named agents on shifts over `days` local days from
-- `first_day` (`end_day` is the day after the last). A draft may be published; publishing supersedes the
-- published rosters whose days overlap. `unfilled` is JSON: the shifts no
-- one could take, with why.
CREATE TABLE rosters (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    first_day TEXT NOT NULL,
    end_day TEXT NOT NULL,
    days BIGINT NOT NULL,
    state TEXT NOT NULL,
    unfilled TEXT NOT NULL,
    created_by TEXT,
    created_at BIGINT NOT NULL,
    published_at BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX rosters_tenant ON rosters(tenant_id, state, first_day);

-- One shift of a roster, as instants; `agent_id` is null while unfilled.
-- `breaks` is JSON [[start_ms, end_ms, paid], ...].
CREATE TABLE roster_shifts (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    roster_id TEXT NOT NULL REFERENCES rosters(id),
    agent_id TEXT REFERENCES agents(id),
    label TEXT NOT NULL,
    skill TEXT,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    breaks TEXT NOT NULL
);
CREATE INDEX roster_shifts_roster ON roster_shifts(roster_id, starts_at);
CREATE INDEX roster_shifts_agent ON roster_shifts(tenant_id, agent_id, starts_at);

-- Calendar feeds: an agent's published shifts as iCalendar, read by
-- calendar clients with the secret in the address (only its hash is kept).
CREATE TABLE calendar_feeds (
    token_hash TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    agent_id TEXT NOT NULL REFERENCES agents(id),
    created_at BIGINT NOT NULL
);
CREATE INDEX calendar_feeds_agent ON calendar_feeds(tenant_id, agent_id);
