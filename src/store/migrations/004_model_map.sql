-- Model aliases per provider: the job's model name → the provider's own name.
ALTER TABLE providers ADD COLUMN model_map TEXT NOT NULL DEFAULT '{}';
