-- Web console sessions, shared by every process on the database. Named by the sha256 of the
-- cookie's value.
CREATE TABLE sessions (
  id_digest  text   PRIMARY KEY,
  key_digest text   NOT NULL,
  csrf       text   NOT NULL,
  expires_at bigint NOT NULL
);
CREATE INDEX sessions_key ON sessions (key_digest, expires_at);
CREATE INDEX sessions_expiry ON sessions (expires_at);
