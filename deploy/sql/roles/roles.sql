-- Cluster-wide roles. confide_owner owns every object and never logs in;
-- confide_app is the services' login role: it may INSERT and SELECT on the
-- event store and nothing more (see privileges/).
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'confide_owner') THEN
    CREATE ROLE confide_owner NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'confide_app') THEN
    CREATE ROLE confide_app LOGIN PASSWORD 'confide';
  END IF;
END $$;
