-- Attempt history: one row per claim of a job, with how that attempt ended.
CREATE TABLE attempts (
  id            INTEGER PRIMARY KEY,
  job_id        TEXT    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  number        INTEGER NOT NULL,
  lease_token   TEXT    NOT NULL,
  owner         TEXT    NOT NULL,
  started_at    INTEGER NOT NULL,
  finished_at   INTEGER,
  -- completed | retried | failed | released | lease_expired | cancelled | superseded
  outcome       TEXT,
  error_code    TEXT,
  error_message TEXT,
  provider      TEXT
);
CREATE INDEX attempts_job ON attempts (job_id, id);
CREATE UNIQUE INDEX attempts_lease ON attempts (lease_token);

-- Idempotency with Stripe's semantics: a repeated key must carry the same request.
ALTER TABLE jobs ADD COLUMN request_hash TEXT;
