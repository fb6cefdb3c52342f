-- The department a queue belongs to: transfers between departments are
-- referrals, and pages group queues by it.
ALTER TABLE queues ADD COLUMN department TEXT NOT NULL DEFAULT '';
