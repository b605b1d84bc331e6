-- Progress a handler reported (ctx.progress), shown on the job.
ALTER TABLE jobs ADD COLUMN progress REAL;
