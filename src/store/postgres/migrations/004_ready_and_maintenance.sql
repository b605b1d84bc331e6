-- Jobs waiting for a later time (delayed, or backing off before a retry) are kept out of the claim
-- index: `ready` is false until their time comes, when a claim promotes them. A claim then never
-- walks past future jobs to find due ones, however many there are.
ALTER TABLE jobs ADD COLUMN ready boolean NOT NULL DEFAULT true;
UPDATE jobs SET ready = false WHERE status = 'queued' AND run_at > (extract(epoch FROM now()) * 1000)::bigint;
DROP INDEX jobs_claim;
DROP INDEX jobs_due;
CREATE INDEX jobs_claim ON jobs (tenant, priority DESC, run_at, seq) WHERE status = 'queued' AND ready;
CREATE INDEX jobs_delayed ON jobs (run_at) WHERE status = 'queued' AND NOT ready;

-- Periodic work (the lease sweep, retention) is done by whichever process takes the task's row
-- when it is due: a compare-and-set, with no fixed leader.
CREATE TABLE maintenance (
  task   text   PRIMARY KEY,
  owner  text   NOT NULL,
  due_at bigint NOT NULL
);
