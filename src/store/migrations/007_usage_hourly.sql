-- Hourly usage rollups kept by trigger: /v1/usage reads whole hours from here and only the
-- partial hours at the edges of a range from raw rows. Latency is kept as a histogram with upper
-- bounds 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000, 300000 ms and above.
CREATE TABLE usage_hourly (
  hour          INTEGER NOT NULL,
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
  PRIMARY KEY (hour, provider, model, job_type)
) WITHOUT ROWID;

INSERT INTO usage_hourly (hour, provider, model, job_type, calls, errors, input_tokens, output_tokens, cost_usd, h0, h1, h2, h3, h4, h5, h6, h7, h8, h9, h10, h11, h12, h13)
  SELECT (created_at / 3600000) * 3600000, provider, model, job_type, count(*), sum(outcome = 'error'), sum(input_tokens), sum(output_tokens),
    sum(cost_usd), sum(latency_ms <= 25), sum(latency_ms > 25 AND latency_ms <= 50), sum(latency_ms > 50 AND latency_ms <= 100), sum(latency_ms > 100 AND latency_ms <= 250), sum(latency_ms > 250 AND latency_ms <= 500), sum(latency_ms > 500 AND latency_ms <= 1000), sum(latency_ms > 1000 AND latency_ms <= 2500), sum(latency_ms > 2500 AND latency_ms <= 5000), sum(latency_ms > 5000 AND latency_ms <= 10000), sum(latency_ms > 10000 AND latency_ms <= 30000), sum(latency_ms > 30000 AND latency_ms <= 60000), sum(latency_ms > 60000 AND latency_ms <= 120000), sum(latency_ms > 120000 AND latency_ms <= 300000), sum(latency_ms > 300000)
  FROM usage GROUP BY 1, 2, 3, 4;

CREATE TRIGGER usage_hourly_insert AFTER INSERT ON usage BEGIN
  INSERT INTO usage_hourly (hour, provider, model, job_type, calls, errors, input_tokens, output_tokens, cost_usd, h0, h1, h2, h3, h4, h5, h6, h7, h8, h9, h10, h11, h12, h13)
    VALUES ((NEW.created_at / 3600000) * 3600000, NEW.provider, NEW.model, NEW.job_type, 1, NEW.outcome = 'error',
      NEW.input_tokens, NEW.output_tokens, NEW.cost_usd, (NEW.latency_ms <= 25), (NEW.latency_ms > 25 AND NEW.latency_ms <= 50), (NEW.latency_ms > 50 AND NEW.latency_ms <= 100), (NEW.latency_ms > 100 AND NEW.latency_ms <= 250), (NEW.latency_ms > 250 AND NEW.latency_ms <= 500), (NEW.latency_ms > 500 AND NEW.latency_ms <= 1000), (NEW.latency_ms > 1000 AND NEW.latency_ms <= 2500), (NEW.latency_ms > 2500 AND NEW.latency_ms <= 5000), (NEW.latency_ms > 5000 AND NEW.latency_ms <= 10000), (NEW.latency_ms > 10000 AND NEW.latency_ms <= 30000), (NEW.latency_ms > 30000 AND NEW.latency_ms <= 60000), (NEW.latency_ms > 60000 AND NEW.latency_ms <= 120000), (NEW.latency_ms > 120000 AND NEW.latency_ms <= 300000), (NEW.latency_ms > 300000))
    ON CONFLICT (hour, provider, model, job_type) DO UPDATE SET calls = calls + 1, errors = errors + excluded.errors,
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
  WHERE hour = (OLD.created_at / 3600000) * 3600000 AND provider = OLD.provider AND model = OLD.model AND job_type = OLD.job_type;
END;
