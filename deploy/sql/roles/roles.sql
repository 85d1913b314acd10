-- Cluster-wide roles. confide_owner owns every object and never logs in;
-- confide_app is the services' login role: it appends events (through
-- append_events) and reads, nothing more (see privileges/). confide_auditor is the
-- auditor's own read-only login for `confide audit verify` / `prove`: SELECT on
-- the log, the chain, the checkpoints and the audit projections, nothing else
-- (privileges/auditor.sql). It gets no password here: set-up generates one into
-- <key_dir>/db/confide_auditor.secret (confide.eventstore.install), so until then
-- it cannot log in with a password at all. confide_projector is the audit
-- service's own login for what it derives from the log: it seals the keyed chain
-- (INSERT on event_chain), appends projection rows (INSERT) and moves the
-- checkpoints forward (a trigger refuses moving one back); it can DELETE or
-- TRUNCATE none of them (privileges/projector.sql), and confide_app only reads
-- them. Its password: <key_dir>/db/confide_projector.secret.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'confide_owner') THEN
    CREATE ROLE confide_owner NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'confide_app') THEN
    -- No password here either: set-up generates one into <key_dir>/db/confide_app.secret.
    CREATE ROLE confide_app LOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'confide_auditor') THEN
    CREATE ROLE confide_auditor LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'confide_projector') THEN
    CREATE ROLE confide_projector LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
  END IF;
END $$;
