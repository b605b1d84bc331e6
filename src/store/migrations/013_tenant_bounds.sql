-- Bounds on what one tenant can make the server spend: what a key's jobs do when its budget is
-- spent, how often a batch's reading was interrupted (a batch that crashes its reader is failed
-- after a few tries instead of being read forever), when each file expires, and a row per engine
-- that readiness writes to prove the store takes writes.
ALTER TABLE api_keys ADD COLUMN budget_action TEXT NOT NULL DEFAULT 'fail';
ALTER TABLE batches ADD COLUMN read_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE files ADD COLUMN expires_at INTEGER;
CREATE INDEX files_expiry ON files (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE heartbeats (
  owner TEXT    PRIMARY KEY,
  at    INTEGER NOT NULL
) WITHOUT ROWID;
