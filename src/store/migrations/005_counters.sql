-- Counters kept by triggers in the same transaction as each change, so /v1/stats reads a few rows
-- instead of counting millions.
CREATE TABLE job_counts (
  type         TEXT    NOT NULL,
  status       TEXT    NOT NULL,
  n            INTEGER NOT NULL DEFAULT 0,
  duration_sum INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (type, status)
) WITHOUT ROWID;

INSERT INTO job_counts (type, status, n, duration_sum)
  SELECT type, status, count(*), coalesce(sum(duration_ms), 0) FROM jobs GROUP BY type, status;

CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs BEGIN
  INSERT INTO job_counts (type, status, n, duration_sum) VALUES (NEW.type, NEW.status, 1, coalesce(NEW.duration_ms, 0))
    ON CONFLICT (type, status) DO UPDATE SET n = n + 1, duration_sum = duration_sum + coalesce(NEW.duration_ms, 0);
END;

CREATE TRIGGER jobs_count_update AFTER UPDATE OF status ON jobs WHEN OLD.status != NEW.status BEGIN
  UPDATE job_counts SET n = n - 1, duration_sum = duration_sum - coalesce(OLD.duration_ms, 0)
    WHERE type = OLD.type AND status = OLD.status;
  INSERT INTO job_counts (type, status, n, duration_sum) VALUES (NEW.type, NEW.status, 1, coalesce(NEW.duration_ms, 0))
    ON CONFLICT (type, status) DO UPDATE SET n = n + 1, duration_sum = duration_sum + coalesce(NEW.duration_ms, 0);
END;

CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs BEGIN
  UPDATE job_counts SET n = n - 1, duration_sum = duration_sum - coalesce(OLD.duration_ms, 0)
    WHERE type = OLD.type AND status = OLD.status;
END;

CREATE TABLE usage_totals (
  id            INTEGER PRIMARY KEY CHECK (id = 1),
  input_tokens  INTEGER NOT NULL,
  output_tokens INTEGER NOT NULL,
  cost_usd      REAL    NOT NULL
);
INSERT INTO usage_totals (id, input_tokens, output_tokens, cost_usd)
  SELECT 1, coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0), coalesce(sum(cost_usd), 0) FROM usage;

CREATE TRIGGER usage_total_insert AFTER INSERT ON usage BEGIN
  UPDATE usage_totals SET input_tokens = input_tokens + NEW.input_tokens, output_tokens = output_tokens + NEW.output_tokens,
    cost_usd = cost_usd + NEW.cost_usd WHERE id = 1;
END;

CREATE TRIGGER usage_total_delete AFTER DELETE ON usage BEGIN
  UPDATE usage_totals SET input_tokens = input_tokens - OLD.input_tokens, output_tokens = output_tokens - OLD.output_tokens,
    cost_usd = cost_usd - OLD.cost_usd WHERE id = 1;
END;

-- Time from due to first claim.
ALTER TABLE jobs ADD COLUMN queue_wait_ms INTEGER;
