-- switchyard:foreign-keys-off
-- Tenants and API keys. Every job belongs to a tenant (the API key that submitted it; "default"
-- for the admin key and the library). The jobs table is rebuilt because idempotency keys become
-- unique per tenant (a column UNIQUE cannot be dropped in SQLite); the counters and rollups gain a
-- tenant column so that a key's stats, usage and budget are read from a few rows.

CREATE TABLE jobs_new (
  seq              INTEGER PRIMARY KEY,
  id               TEXT    NOT NULL UNIQUE,
  tenant           TEXT    NOT NULL DEFAULT 'default',
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
  idempotency_key  TEXT,
  request_hash     TEXT,
  run_at           INTEGER NOT NULL,
  created_at       INTEGER NOT NULL,
  started_at       INTEGER,
  finished_at      INTEGER,
  duration_ms      INTEGER,
  queue_wait_ms    INTEGER,
  progress         REAL,
  lease_owner      TEXT,
  lease_token      TEXT,
  lease_expires_at INTEGER,
  UNIQUE (tenant, idempotency_key)
);
INSERT INTO jobs_new (seq, id, tenant, type, status, priority, attempt, max_attempts, timeout_ms, input, output, error,
    provider, model, input_tokens, output_tokens, cost_usd, metadata, idempotency_key, request_hash, run_at, created_at,
    started_at, finished_at, duration_ms, queue_wait_ms, progress, lease_owner, lease_token, lease_expires_at)
  SELECT seq, id, 'default', type, status, priority, attempt, max_attempts, timeout_ms, input, output, error,
    provider, model, input_tokens, output_tokens, cost_usd, metadata, idempotency_key, request_hash, run_at, created_at,
    started_at, finished_at, duration_ms, queue_wait_ms, progress, lease_owner, lease_token, lease_expires_at
  FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_new RENAME TO jobs;

-- The claim walks each tenant's queue in priority order (fair scheduling picks the tenants).
CREATE INDEX jobs_claim ON jobs (tenant, priority DESC, run_at, seq) WHERE status = 'queued';
CREATE INDEX jobs_due ON jobs (run_at) WHERE status = 'queued';
CREATE INDEX jobs_lease ON jobs (lease_expires_at) WHERE status = 'running';
CREATE INDEX jobs_status ON jobs (status, seq);
CREATE INDEX jobs_type ON jobs (type, seq);
CREATE INDEX jobs_tenant ON jobs (tenant, seq);
CREATE INDEX jobs_finished ON jobs (status, finished_at) WHERE finished_at IS NOT NULL;

DROP TABLE job_counts;
CREATE TABLE job_counts (
  tenant       TEXT    NOT NULL,
  type         TEXT    NOT NULL,
  status       TEXT    NOT NULL,
  n            INTEGER NOT NULL DEFAULT 0,
  duration_sum INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant, type, status)
) WITHOUT ROWID;
INSERT INTO job_counts (tenant, type, status, n, duration_sum)
  SELECT tenant, type, status, count(*), coalesce(sum(duration_ms), 0) FROM jobs GROUP BY tenant, type, status;

CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs BEGIN
  INSERT INTO job_counts (tenant, type, status, n, duration_sum) VALUES (NEW.tenant, NEW.type, NEW.status, 1, coalesce(NEW.duration_ms, 0))
    ON CONFLICT (tenant, type, status) DO UPDATE SET n = n + 1, duration_sum = duration_sum + coalesce(NEW.duration_ms, 0);
END;

CREATE TRIGGER jobs_count_update AFTER UPDATE OF status ON jobs WHEN OLD.status != NEW.status BEGIN
  UPDATE job_counts SET n = n - 1, duration_sum = duration_sum - coalesce(OLD.duration_ms, 0)
    WHERE tenant = OLD.tenant AND type = OLD.type AND status = OLD.status;
  INSERT INTO job_counts (tenant, type, status, n, duration_sum) VALUES (NEW.tenant, NEW.type, NEW.status, 1, coalesce(NEW.duration_ms, 0))
    ON CONFLICT (tenant, type, status) DO UPDATE SET n = n + 1, duration_sum = duration_sum + coalesce(NEW.duration_ms, 0);
END;

CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs BEGIN
  UPDATE job_counts SET n = n - 1, duration_sum = duration_sum - coalesce(OLD.duration_ms, 0)
    WHERE tenant = OLD.tenant AND type = OLD.type AND status = OLD.status;
END;

ALTER TABLE usage ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
CREATE INDEX usage_tenant ON usage (tenant, created_at);

DROP TRIGGER usage_total_insert;
DROP TRIGGER usage_total_delete;
DROP TABLE usage_totals;
CREATE TABLE usage_totals (
  tenant        TEXT    PRIMARY KEY,
  input_tokens  INTEGER NOT NULL,
  output_tokens INTEGER NOT NULL,
  cost_usd      REAL    NOT NULL
) WITHOUT ROWID;
INSERT INTO usage_totals (tenant, input_tokens, output_tokens, cost_usd)
  SELECT tenant, sum(input_tokens), sum(output_tokens), sum(cost_usd) FROM usage GROUP BY tenant;

CREATE TRIGGER usage_total_insert AFTER INSERT ON usage BEGIN
  INSERT INTO usage_totals (tenant, input_tokens, output_tokens, cost_usd) VALUES (NEW.tenant, NEW.input_tokens, NEW.output_tokens, NEW.cost_usd)
    ON CONFLICT (tenant) DO UPDATE SET input_tokens = input_tokens + excluded.input_tokens,
      output_tokens = output_tokens + excluded.output_tokens, cost_usd = cost_usd + excluded.cost_usd;
END;

CREATE TRIGGER usage_total_delete AFTER DELETE ON usage BEGIN
  UPDATE usage_totals SET input_tokens = input_tokens - OLD.input_tokens, output_tokens = output_tokens - OLD.output_tokens,
    cost_usd = cost_usd - OLD.cost_usd WHERE tenant = OLD.tenant;
END;

DROP TRIGGER usage_hourly_insert;
DROP TRIGGER usage_hourly_delete;
DROP TABLE usage_hourly;
CREATE TABLE usage_hourly (
  hour          INTEGER NOT NULL,
  tenant        TEXT    NOT NULL,
  provider      TEXT    NOT NULL,
  model         TEXT    NOT NULL,
  job_type      TEXT    NOT NULL,
  calls         INTEGER NOT NULL DEFAULT 0,
  errors        INTEGER NOT NULL DEFAULT 0,
  input_tokens  INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0,
  cost_usd      REAL    NOT NULL DEFAULT 0,
  h0 INTEGER NOT NULL DEFAULT 0,
  h1 INTEGER NOT NULL DEFAULT 0,
  h2 INTEGER NOT NULL DEFAULT 0,
  h3 INTEGER NOT NULL DEFAULT 0,
  h4 INTEGER NOT NULL DEFAULT 0,
  h5 INTEGER NOT NULL DEFAULT 0,
  h6 INTEGER NOT NULL DEFAULT 0,
  h7 INTEGER NOT NULL DEFAULT 0,
  h8 INTEGER NOT NULL DEFAULT 0,
  h9 INTEGER NOT NULL DEFAULT 0,
  h10 INTEGER NOT NULL DEFAULT 0,
  h11 INTEGER NOT NULL DEFAULT 0,
  h12 INTEGER NOT NULL DEFAULT 0,
  h13 INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (hour, tenant, provider, model, job_type)
) WITHOUT ROWID;

INSERT INTO usage_hourly (hour, tenant, provider, model, job_type, calls, errors, input_tokens, output_tokens, cost_usd, h0, h1, h2, h3, h4, h5, h6, h7, h8, h9, h10, h11, h12, h13)
  SELECT (created_at / 3600000) * 3600000, tenant, provider, model, job_type, count(*), sum(outcome = 'error'), sum(input_tokens), sum(output_tokens),
    sum(cost_usd), sum(latency_ms <= 25), sum(latency_ms > 25 AND latency_ms <= 50), sum(latency_ms > 50 AND latency_ms <= 100), sum(latency_ms > 100 AND latency_ms <= 250), sum(latency_ms > 250 AND latency_ms <= 500), sum(latency_ms > 500 AND latency_ms <= 1000), sum(latency_ms > 1000 AND latency_ms <= 2500), sum(latency_ms > 2500 AND latency_ms <= 5000), sum(latency_ms > 5000 AND latency_ms <= 10000), sum(latency_ms > 10000 AND latency_ms <= 30000), sum(latency_ms > 30000 AND latency_ms <= 60000), sum(latency_ms > 60000 AND latency_ms <= 120000), sum(latency_ms > 120000 AND latency_ms <= 300000), sum(latency_ms > 300000)
  FROM usage GROUP BY 1, 2, 3, 4, 5;

CREATE TRIGGER usage_hourly_insert AFTER INSERT ON usage BEGIN
  INSERT INTO usage_hourly (hour, tenant, provider, model, job_type, calls, errors, input_tokens, output_tokens, cost_usd, h0, h1, h2, h3, h4, h5, h6, h7, h8, h9, h10, h11, h12, h13)
    VALUES ((NEW.created_at / 3600000) * 3600000, NEW.tenant, NEW.provider, NEW.model, NEW.job_type, 1, NEW.outcome = 'error',
      NEW.input_tokens, NEW.output_tokens, NEW.cost_usd, (NEW.latency_ms <= 25), (NEW.latency_ms > 25 AND NEW.latency_ms <= 50), (NEW.latency_ms > 50 AND NEW.latency_ms <= 100), (NEW.latency_ms > 100 AND NEW.latency_ms <= 250), (NEW.latency_ms > 250 AND NEW.latency_ms <= 500), (NEW.latency_ms > 500 AND NEW.latency_ms <= 1000), (NEW.latency_ms > 1000 AND NEW.latency_ms <= 2500), (NEW.latency_ms > 2500 AND NEW.latency_ms <= 5000), (NEW.latency_ms > 5000 AND NEW.latency_ms <= 10000), (NEW.latency_ms > 10000 AND NEW.latency_ms <= 30000), (NEW.latency_ms > 30000 AND NEW.latency_ms <= 60000), (NEW.latency_ms > 60000 AND NEW.latency_ms <= 120000), (NEW.latency_ms > 120000 AND NEW.latency_ms <= 300000), (NEW.latency_ms > 300000))
    ON CONFLICT (hour, tenant, provider, model, job_type) DO UPDATE SET calls = calls + 1, errors = errors + excluded.errors,
      input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens,
      cost_usd = cost_usd + excluded.cost_usd, h0 = h0 + excluded.h0, h1 = h1 + excluded.h1, h2 = h2 + excluded.h2, h3 = h3 + excluded.h3, h4 = h4 + excluded.h4, h5 = h5 + excluded.h5, h6 = h6 + excluded.h6, h7 = h7 + excluded.h7, h8 = h8 + excluded.h8, h9 = h9 + excluded.h9, h10 = h10 + excluded.h10, h11 = h11 + excluded.h11, h12 = h12 + excluded.h12, h13 = h13 + excluded.h13;
END;

CREATE TRIGGER usage_hourly_delete AFTER DELETE ON usage BEGIN
  UPDATE usage_hourly SET calls = calls - 1, errors = errors - (OLD.outcome = 'error'),
    input_tokens = input_tokens - OLD.input_tokens, output_tokens = output_tokens - OLD.output_tokens,
    cost_usd = cost_usd - OLD.cost_usd,
    h0 = h0 - (OLD.latency_ms <= 25),
    h1 = h1 - (OLD.latency_ms > 25 AND OLD.latency_ms <= 50),
    h2 = h2 - (OLD.latency_ms > 50 AND OLD.latency_ms <= 100),
    h3 = h3 - (OLD.latency_ms > 100 AND OLD.latency_ms <= 250),
    h4 = h4 - (OLD.latency_ms > 250 AND OLD.latency_ms <= 500),
    h5 = h5 - (OLD.latency_ms > 500 AND OLD.latency_ms <= 1000),
    h6 = h6 - (OLD.latency_ms > 1000 AND OLD.latency_ms <= 2500),
    h7 = h7 - (OLD.latency_ms > 2500 AND OLD.latency_ms <= 5000),
    h8 = h8 - (OLD.latency_ms > 5000 AND OLD.latency_ms <= 10000),
    h9 = h9 - (OLD.latency_ms > 10000 AND OLD.latency_ms <= 30000),
    h10 = h10 - (OLD.latency_ms > 30000 AND OLD.latency_ms <= 60000),
    h11 = h11 - (OLD.latency_ms > 60000 AND OLD.latency_ms <= 120000),
    h12 = h12 - (OLD.latency_ms > 120000 AND OLD.latency_ms <= 300000),
    h13 = h13 - (OLD.latency_ms > 300000)
  WHERE hour = (OLD.created_at / 3600000) * 3600000 AND tenant = OLD.tenant AND provider = OLD.provider AND model = OLD.model AND job_type = OLD.job_type;
END;

-- API keys made through POST /v1/keys. Only a SHA-256 of the secret is kept: the secret is 256
-- random bits, so a slow password hash would add nothing but latency to every request.
CREATE TABLE api_keys (
  id                  TEXT    PRIMARY KEY,
  name                TEXT,
  hash                TEXT    NOT NULL UNIQUE,
  prefix              TEXT    NOT NULL,
  scopes              TEXT    NOT NULL,
  expires_at          INTEGER,
  rate_limit          INTEGER,
  daily_token_budget  INTEGER,
  daily_cost_budget   REAL,
  max_concurrency     INTEGER,
  weight              INTEGER NOT NULL DEFAULT 1,
  created_at          INTEGER NOT NULL,
  revoked_at          INTEGER,
  last_used_at        INTEGER
);
