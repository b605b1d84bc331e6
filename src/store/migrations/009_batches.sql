-- The OpenAI-compatible Batch API: uploaded files (their bytes live on disk), batches, and which
-- job runs each line of a batch's input file.
CREATE TABLE files (
  id         TEXT    PRIMARY KEY,
  tenant     TEXT    NOT NULL,
  purpose    TEXT    NOT NULL,
  filename   TEXT    NOT NULL,
  bytes      INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX files_tenant ON files (tenant, created_at);

CREATE TABLE batches (
  id                TEXT    PRIMARY KEY,
  tenant            TEXT    NOT NULL,
  endpoint          TEXT    NOT NULL,
  input_file_id     TEXT    NOT NULL,
  completion_window TEXT    NOT NULL,
  status            TEXT    NOT NULL,
  errors            TEXT,
  output_file_id    TEXT,
  error_file_id     TEXT,
  metadata          TEXT,
  total             INTEGER NOT NULL DEFAULT 0,
  created_at        INTEGER NOT NULL,
  in_progress_at    INTEGER,
  expires_at        INTEGER NOT NULL,
  finalizing_at     INTEGER,
  completed_at      INTEGER,
  failed_at         INTEGER,
  expired_at        INTEGER,
  cancelling_at     INTEGER,
  cancelled_at      INTEGER
);
CREATE INDEX batches_tenant ON batches (tenant, created_at);
CREATE INDEX batches_status ON batches (status);

CREATE TABLE batch_jobs (
  batch_id  TEXT    NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
  line      INTEGER NOT NULL,
  custom_id TEXT    NOT NULL,
  job_id    TEXT    NOT NULL,
  PRIMARY KEY (batch_id, line)
) WITHOUT ROWID;
