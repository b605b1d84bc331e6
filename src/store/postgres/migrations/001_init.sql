-- The PostgreSQL schema: the same tables and columns as SQLite's (after its migration 014), so that
-- `switchyard migrate` copies rows as they are. Times are epoch milliseconds; JSON is kept as text.
CREATE TABLE jobs (
  seq              bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id               text    NOT NULL UNIQUE,
  tenant           text    NOT NULL DEFAULT 'default',
  type             text    NOT NULL,
  status           text    NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
  priority         integer NOT NULL DEFAULT 0,
  attempt          integer NOT NULL DEFAULT 0,
  max_attempts     integer NOT NULL,
  timeout_ms       bigint  NOT NULL,
  input            text    NOT NULL,
  output           text,
  error            text,
  provider         text,
  model            text,
  input_tokens     bigint  NOT NULL DEFAULT 0,
  output_tokens    bigint  NOT NULL DEFAULT 0,
  cost_usd         double precision NOT NULL DEFAULT 0,
  metadata         text,
  idempotency_key  text,
  request_hash     text,
  run_at           bigint  NOT NULL,
  created_at       bigint  NOT NULL,
  started_at       bigint,
  finished_at      bigint,
  duration_ms      bigint,
  queue_wait_ms    bigint,
  progress         double precision,
  lease_owner      text,
  lease_token      text,
  lease_expires_at bigint,
  UNIQUE (tenant, idempotency_key)
);
-- One partial index per state, each sorted as the query that reads it.
CREATE INDEX jobs_claim ON jobs (tenant, priority DESC, run_at, seq) WHERE status = 'queued';
CREATE INDEX jobs_due ON jobs (run_at) WHERE status = 'queued';
CREATE INDEX jobs_leases ON jobs (lease_expires_at) WHERE status = 'running';
CREATE INDEX jobs_finished ON jobs (status, finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX jobs_status ON jobs (status, seq);
CREATE INDEX jobs_tenant ON jobs (tenant, seq);
CREATE INDEX jobs_type ON jobs (type, seq);

CREATE TABLE attempts (
  id            bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id        text    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  number        integer NOT NULL,
  lease_token   text    NOT NULL,
  owner         text    NOT NULL,
  started_at    bigint  NOT NULL,
  finished_at   bigint,
  outcome       text,
  error_code    text,
  error_message text,
  provider      text
);
CREATE INDEX attempts_job ON attempts (job_id, id);

CREATE TABLE usage (
  id                 bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id             text    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  job_type           text    NOT NULL,
  tenant             text    NOT NULL DEFAULT 'default',
  attempt            integer NOT NULL,
  provider           text    NOT NULL,
  model              text    NOT NULL,
  outcome            text    NOT NULL,
  error_code         text,
  latency_ms         bigint  NOT NULL,
  input_tokens       bigint  NOT NULL,
  output_tokens      bigint  NOT NULL,
  cost_usd           double precision NOT NULL,
  created_at         bigint  NOT NULL,
  cache_read_tokens  bigint  NOT NULL DEFAULT 0,
  cache_write_tokens bigint  NOT NULL DEFAULT 0,
  estimated          integer NOT NULL DEFAULT 0
);
CREATE INDEX usage_created ON usage (created_at);
CREATE INDEX usage_job ON usage (job_id);
CREATE INDEX usage_tenant ON usage (tenant, created_at);

-- Counters, kept in the same transactions as the rows (see tallies.ts).
CREATE TABLE job_counts (
  tenant       text   NOT NULL,
  type         text   NOT NULL,
  status       text   NOT NULL,
  n            bigint NOT NULL DEFAULT 0,
  duration_sum bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant, type, status)
);
CREATE TABLE usage_hourly (
  hour               bigint NOT NULL,
  tenant             text   NOT NULL,
  provider           text   NOT NULL,
  model              text   NOT NULL,
  job_type           text   NOT NULL,
  calls              bigint NOT NULL DEFAULT 0,
  errors             bigint NOT NULL DEFAULT 0,
  input_tokens       bigint NOT NULL DEFAULT 0,
  output_tokens      bigint NOT NULL DEFAULT 0,
  cost_usd           double precision NOT NULL DEFAULT 0,
  cache_read_tokens  bigint NOT NULL DEFAULT 0,
  cache_write_tokens bigint NOT NULL DEFAULT 0,
  estimated_calls    bigint NOT NULL DEFAULT 0,
  h0 bigint NOT NULL DEFAULT 0, h1 bigint NOT NULL DEFAULT 0, h2 bigint NOT NULL DEFAULT 0, h3 bigint NOT NULL DEFAULT 0,
  h4 bigint NOT NULL DEFAULT 0, h5 bigint NOT NULL DEFAULT 0, h6 bigint NOT NULL DEFAULT 0, h7 bigint NOT NULL DEFAULT 0,
  h8 bigint NOT NULL DEFAULT 0, h9 bigint NOT NULL DEFAULT 0, h10 bigint NOT NULL DEFAULT 0, h11 bigint NOT NULL DEFAULT 0,
  h12 bigint NOT NULL DEFAULT 0, h13 bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (hour, tenant, provider, model, job_type)
);
CREATE TABLE usage_totals (
  tenant        text   PRIMARY KEY,
  input_tokens  bigint NOT NULL,
  output_tokens bigint NOT NULL,
  cost_usd      double precision NOT NULL
);

CREATE TABLE providers (
  name            text    PRIMARY KEY,
  kind            text    NOT NULL,
  base_url        text,
  api_key         text,
  models          text    NOT NULL,
  model_map       text    NOT NULL DEFAULT '{}',
  priority        integer NOT NULL,
  weight          double precision NOT NULL,
  enabled         integer NOT NULL,
  timeout_ms      bigint  NOT NULL,
  max_concurrency integer NOT NULL,
  rpm             integer,
  tpm             integer,
  breaker         text    NOT NULL,
  prices          text    NOT NULL,
  options         text    NOT NULL,
  created_at      bigint  NOT NULL,
  updated_at      bigint  NOT NULL
);

CREATE TABLE api_keys (
  id                 text    PRIMARY KEY,
  name               text,
  hash               text    NOT NULL UNIQUE,
  prefix             text    NOT NULL,
  scopes             text    NOT NULL,
  expires_at         bigint,
  rate_limit         integer,
  daily_token_budget bigint,
  daily_cost_budget  double precision,
  budget_action      text    NOT NULL DEFAULT 'fail',
  max_concurrency    integer,
  weight             integer NOT NULL DEFAULT 1,
  created_at         bigint  NOT NULL,
  revoked_at         bigint,
  last_used_at       bigint
);

CREATE TABLE heartbeats (
  owner text   PRIMARY KEY,
  at    bigint NOT NULL
);

CREATE TABLE files (
  id         text   PRIMARY KEY,
  tenant     text   NOT NULL,
  purpose    text   NOT NULL,
  filename   text   NOT NULL,
  bytes      bigint NOT NULL,
  created_at bigint NOT NULL,
  expires_at bigint
);
CREATE INDEX files_expiry ON files (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX files_tenant ON files (tenant, created_at);

CREATE TABLE batches (
  id                text    PRIMARY KEY,
  tenant            text    NOT NULL,
  endpoint          text    NOT NULL,
  input_file_id     text    NOT NULL,
  completion_window text    NOT NULL,
  status            text    NOT NULL,
  errors            text,
  output_file_id    text,
  error_file_id     text,
  metadata          text,
  total             integer NOT NULL DEFAULT 0,
  created_at        bigint  NOT NULL,
  in_progress_at    bigint,
  expires_at        bigint  NOT NULL,
  finalizing_at     bigint,
  completed_at      bigint,
  failed_at         bigint,
  expired_at        bigint,
  cancelling_at     bigint,
  cancelled_at      bigint,
  read_attempts     integer NOT NULL DEFAULT 0
);
CREATE INDEX batches_status ON batches (status);
CREATE INDEX batches_tenant ON batches (tenant, created_at);

CREATE TABLE batch_jobs (
  batch_id  text    NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
  line      integer NOT NULL,
  custom_id text    NOT NULL,
  job_id    text    NOT NULL,
  PRIMARY KEY (batch_id, line)
);
