-- Web console sessions, in the database so that every process sharing it knows them. Named by
-- the sha256 of the cookie's value.
CREATE TABLE sessions (
  id_digest  TEXT    PRIMARY KEY,
  key_digest TEXT    NOT NULL,
  csrf       TEXT    NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_key ON sessions (key_digest, expires_at);
CREATE INDEX sessions_expiry ON sessions (expires_at);
