-- The services' role: SELECT on the event store, and appends only through
-- append_events (SECURITY DEFINER), never a bare INSERT that would skip its
-- checks. What is derived from the log (the keyed chain, the checkpoints, the
-- audit projections) it reads and never writes: the audit service writes them as
-- confide_projector (projector.sql). UPDATE, DELETE and TRUNCATE are refused by
-- the database itself, whatever the application does.
REVOKE ALL ON ALL TABLES IN SCHEMA :"schema" FROM PUBLIC;
REVOKE ALL ON FUNCTION :"schema".append_events(text, bigint, uuid[], text[], text[], text[], timestamptz[], bytea[]) FROM PUBLIC;
GRANT USAGE ON SCHEMA :"schema" TO confide_app;
-- Whatever an earlier install granted (INSERT on the chain, UPDATE on checkpoints,
-- INSERT and DELETE on the projections) is taken back before the reads are granted.
REVOKE ALL ON :"schema".events, :"schema".event_chain, :"schema".checkpoints, :"schema".access_log_view,
  :"schema".disclosure_log_view, :"schema".accounting_view, :"schema".note_version_view FROM confide_app;
GRANT SELECT ON :"schema".events, :"schema".event_chain, :"schema".checkpoints TO confide_app;
GRANT SELECT ON :"schema".access_log_view, :"schema".disclosure_log_view, :"schema".accounting_view,
  :"schema".note_version_view TO confide_app;
-- The position sequence: SELECT only (read_frontier reads its last_value). Positions are drawn by
-- append_events as the owner; USAGE would let this login call nextval itself, burning positions
-- outside the reservation lock (gaps no append made, and a way toward the 2^40 end of the range).
REVOKE ALL ON SEQUENCE :"schema".events_position_seq FROM confide_app;
GRANT SELECT ON SEQUENCE :"schema".events_position_seq TO confide_app;
GRANT EXECUTE ON FUNCTION :"schema".append_events(text, bigint, uuid[], text[], text[], text[], timestamptz[], bytea[]) TO confide_app;
GRANT EXECUTE ON FUNCTION :"schema".read_frontier() TO confide_app;
