-- A contact's (or agent's) own events in order, for its timeline.
CREATE INDEX events_subject ON events(tenant_id, subject_id, seq);
