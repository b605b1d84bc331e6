-- Running jobs are few (at most the engines' concurrency), so the lease sweep scans them through
-- jobs_status, and tenant caps count them from job_counts: the lease-expiry index cost an index
-- insert at every claim, a delete at every outcome and an update per job at every lease renewal.
DROP INDEX jobs_lease;
