-- Provider limits shared by every process: each process leases concurrency slots (provider_leases)
-- and takes slices of the per-minute request and token limits (provider_grants, one row per slice).
CREATE TABLE provider_leases (
  provider   text    NOT NULL,
  node       text    NOT NULL,
  slots      integer NOT NULL,
  expires_at bigint  NOT NULL,
  PRIMARY KEY (provider, node)
);
CREATE TABLE provider_grants (
  id       bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  provider text    NOT NULL,
  node     text    NOT NULL,
  at       bigint  NOT NULL,
  calls    integer NOT NULL,
  tokens   bigint  NOT NULL
);
CREATE INDEX provider_grants_at ON provider_grants (provider, at);
