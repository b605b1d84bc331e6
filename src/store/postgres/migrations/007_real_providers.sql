-- Real providers first (as SQLite's migration 016).
-- 1. The mock seeded by earlier versions served `*`: it now serves `mock-*` models and, through its
--    `*`, only models that no enabled real provider serves.
-- 2. Providers set by a config file or the environment are marked (`managed_by`: 'config' or 'env').
-- 3. A call whose model has no price is counted as unpriced, never as $0.
UPDATE providers SET models = '["mock-*","*"]' WHERE kind = 'mock' AND name = 'mock' AND models = '["*"]';
ALTER TABLE providers ADD COLUMN managed_by text;
ALTER TABLE usage ADD COLUMN unpriced integer NOT NULL DEFAULT 0;
ALTER TABLE usage_hourly ADD COLUMN unpriced_calls bigint NOT NULL DEFAULT 0;
