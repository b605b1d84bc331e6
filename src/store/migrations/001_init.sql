-- Jobs: one row per job; the lease columns fence each attempt's writes.
CREATE TABLE jobs (
  seq              INTEGER PRIMARY KEY,
  id               TEXT    NOT NULL UNIQUE,
  type             TEXT    NOT NULL,
  status           TEXT    NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
  priority         INTEGER NOT NULL DEFAULT 0,
  attempt          INTEGER NOT NULL DEFAULT 0,
  max_attempts     INTEGER NOT NULL,
  timeout_ms       INTEGER NOT NULL,
  input            TEXT    NOT NULL,
  output           TEXT,
  error            TEXT,
  provider         TEXT,
  model            TEXT,
  input_tokens     INTEGER NOT NULL DEFAULT 0,
  output_tokens    INTEGER NOT NULL DEFAULT 0,
  cost_usd         REAL    NOT NULL DEFAULT 0,
  metadata         TEXT,
  idempotency_key  TEXT    UNIQUE,
  run_at           INTEGER NOT NULL,
  created_at       INTEGER NOT NULL,
  started_at       INTEGER,
  finished_at      INTEGER,
  duration_ms      INTEGER,
  lease_owner      TEXT,
  lease_token      TEXT,
  lease_expires_at INTEGER
);

-- The claim query's order: highest priority, then earliest due, then oldest.
CREATE INDEX jobs_claim ON jobs (priority DESC, run_at, seq) WHERE status = 'queued';
-- When the next delayed job falls due.
CREATE INDEX jobs_due ON jobs (run_at) WHERE status = 'queued';
-- Expired leases of running jobs.
CREATE INDEX jobs_lease ON jobs (lease_expires_at) WHERE status = 'running';
-- Listing and counting by status or type, newest first.
CREATE INDEX jobs_status ON jobs (status, seq);
CREATE INDEX jobs_type ON jobs (type, seq);

CREATE TABLE providers (
  name            TEXT    PRIMARY KEY,
  kind            TEXT    NOT NULL,
  base_url        TEXT,
  api_key         TEXT,
  models          TEXT    NOT NULL,
  priority        INTEGER NOT NULL,
  weight          REAL    NOT NULL,
  enabled         INTEGER NOT NULL,
  timeout_ms      INTEGER NOT NULL,
  max_concurrency INTEGER NOT NULL,
  rpm             INTEGER,
  tpm             INTEGER,
  breaker         TEXT    NOT NULL,
  prices          TEXT    NOT NULL,
  options         TEXT    NOT NULL,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL
);

-- One row per provider call, written in the transaction that records the attempt's outcome.
CREATE TABLE usage (
  id            INTEGER PRIMARY KEY,
  job_id        TEXT    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  job_type      TEXT    NOT NULL,
  attempt       INTEGER NOT NULL,
  provider      TEXT    NOT NULL,
  model         TEXT    NOT NULL,
  outcome       TEXT    NOT NULL,
  error_code    TEXT,
  latency_ms    INTEGER NOT NULL,
  input_tokens  INTEGER NOT NULL,
  output_tokens INTEGER NOT NULL,
  cost_usd      REAL    NOT NULL,
  created_at    INTEGER NOT NULL
);
CREATE INDEX usage_created ON usage (created_at);
CREATE INDEX usage_job ON usage (job_id);
