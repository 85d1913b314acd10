-- Cluster-wide roles. confide_owner owns every object and never logs in;
-- confide_app is the services' login role: it may INSERT and SELECT on the
-- event store and nothing more (see privileges/). confide_auditor is the
-- auditor's own read-only login for `confide audit verify` / `prove`: SELECT on
-- the log, the chain, the checkpoints and the audit projections, nothing else
-- (privileges/auditor.sql). It gets no password here: set-up generates one into
-- <key_dir>/db/confide_auditor.secret (confide.eventstore.install), so until then
-- it cannot log in with a password at all.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'confide_owner') THEN
    CREATE ROLE confide_owner NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'confide_app') THEN
    CREATE ROLE confide_app LOGIN PASSWORD 'confide';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'confide_auditor') THEN
    CREATE ROLE confide_auditor LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
  END IF;
END $$;
