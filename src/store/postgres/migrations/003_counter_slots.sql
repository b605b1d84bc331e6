-- Counter rows per writer slot: processes that write at the same moment update different rows,
-- instead of each waiting for the other's commit on one hot row. Each process writes to a slot of
-- its own choosing; readers sum the slots.
ALTER TABLE job_counts ADD COLUMN slot smallint NOT NULL DEFAULT 0;
ALTER TABLE job_counts DROP CONSTRAINT job_counts_pkey;
ALTER TABLE job_counts ADD PRIMARY KEY (tenant, type, status, slot);
ALTER TABLE usage_hourly ADD COLUMN slot smallint NOT NULL DEFAULT 0;
ALTER TABLE usage_hourly DROP CONSTRAINT usage_hourly_pkey;
ALTER TABLE usage_hourly ADD PRIMARY KEY (hour, tenant, provider, model, job_type, slot);
ALTER TABLE usage_totals ADD COLUMN slot smallint NOT NULL DEFAULT 0;
ALTER TABLE usage_totals DROP CONSTRAINT usage_totals_pkey;
ALTER TABLE usage_totals ADD PRIMARY KEY (tenant, slot);
