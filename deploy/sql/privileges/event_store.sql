-- The services' role: SELECT on the event store, and appends only through
-- append_events (SECURITY DEFINER), never a bare INSERT that would skip its
-- checks. UPDATE, DELETE and TRUNCATE are refused by the database itself,
-- whatever the application does.
REVOKE ALL ON ALL TABLES IN SCHEMA :"schema" FROM PUBLIC;
REVOKE ALL ON FUNCTION :"schema".append_events(text, bigint, uuid[], text[], text[], text[], timestamptz[], bytea[]) FROM PUBLIC;
GRANT USAGE ON SCHEMA :"schema" TO confide_app;
REVOKE ALL ON :"schema".events, :"schema".event_chain FROM confide_app;
GRANT SELECT ON :"schema".events TO confide_app;
GRANT SELECT, INSERT ON :"schema".event_chain TO confide_app;
GRANT USAGE, SELECT ON SEQUENCE :"schema".events_position_seq TO confide_app;
GRANT EXECUTE ON FUNCTION :"schema".append_events(text, bigint, uuid[], text[], text[], text[], timestamptz[], bytea[]) TO confide_app;
GRANT EXECUTE ON FUNCTION :"schema".read_frontier() TO confide_app;
-- Checkpoints move forward: the one table besides projections the role may update.
GRANT SELECT, INSERT, UPDATE ON :"schema".checkpoints TO confide_app;
