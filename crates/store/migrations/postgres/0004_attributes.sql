-- Attributes routing conditions read: an agent's (language, team, …) and a
-- contact's (language, vip, …), as JSON objects of text values; and the one
-- agent a contact waits for, if any (the last agent the customer spoke to,
-- or a transfer to a named agent), so a restart keeps it.
ALTER TABLE agents ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}';
ALTER TABLE contacts ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}';
ALTER TABLE contacts ADD COLUMN requested_agent_id TEXT;
