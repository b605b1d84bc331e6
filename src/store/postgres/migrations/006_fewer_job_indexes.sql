-- Every change of a job's status rewrites its entry in each of the jobs table's indexes, so each
-- index costs every claim and every outcome. Two go:
-- * Idempotency keys stay unique per tenant, but only jobs that have a key are indexed (most have
--   none, and a NULL key was indexed all the same).
-- * The running jobs' lease index: there are only as many running jobs as the processes' slots, so
--   the lease sweep reads them through jobs_status.
ALTER TABLE jobs DROP CONSTRAINT jobs_tenant_idempotency_key_key;
CREATE UNIQUE INDEX jobs_idempotency ON jobs (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL;
DROP INDEX jobs_leases;
