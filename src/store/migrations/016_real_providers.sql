-- Real providers first.
-- 1. The mock seeded by earlier versions served `*`, which made it a failover target for every
--    model. It now serves `mock-*` models and, through its `*`, only models that no enabled real
--    provider serves (the router keeps it away from the rest).
-- 2. Providers set by a config file or the environment are marked, so that a later start can tell
--    them from those added through the API (`managed_by`: 'config', 'env' or NULL).
-- 3. A call whose model has no price is counted as unpriced, never as $0.
UPDATE providers SET models = '["mock-*","*"]' WHERE kind = 'mock' AND name = 'mock' AND models = '["*"]';
ALTER TABLE providers ADD COLUMN managed_by TEXT;
ALTER TABLE usage ADD COLUMN unpriced INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_hourly ADD COLUMN unpriced_calls INTEGER NOT NULL DEFAULT 0;

DROP TRIGGER usage_hourly_delete;
CREATE TRIGGER usage_hourly_delete AFTER DELETE ON usage BEGIN
  UPDATE usage_hourly SET calls = calls - 1, errors = errors - (OLD.outcome = 'error'),
    input_tokens = input_tokens - OLD.input_tokens, output_tokens = output_tokens - OLD.output_tokens,
    cost_usd = cost_usd - OLD.cost_usd,
    cache_read_tokens = cache_read_tokens - OLD.cache_read_tokens,
    cache_write_tokens = cache_write_tokens - OLD.cache_write_tokens,
    estimated_calls = estimated_calls - OLD.estimated,
    unpriced_calls = unpriced_calls - OLD.unpriced,
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
