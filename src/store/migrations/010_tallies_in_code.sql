-- The counters (job_counts, usage_totals, usage_hourly) were kept by row triggers, which cost
-- ~15 µs per inserted or updated row — most of the time of a bulk submit or a claim. The store now
-- adds up the changes of each transaction in code and writes them once per transaction
-- (src/store/tallies.ts). Deletes (retention, a cold path) keep their triggers.
DROP TRIGGER jobs_count_insert;
DROP TRIGGER jobs_count_update;
DROP TRIGGER usage_total_insert;
DROP TRIGGER usage_hourly_insert;
