-- The audit service's own login (roles.sql), for what it derives from the log and
-- nothing else (45 CFR 164.312(b), (c)(1)):
--   - the sealer reads the events and appends to the keyed chain (INSERT on
--     event_chain; its triggers refuse UPDATE, DELETE and TRUNCATE even to the owner);
--   - the relay and subscriptions move their checkpoints forward (INSERT, UPDATE,
--     and SELECT ... FOR UPDATE; the checkpoints_forward_only trigger refuses a
--     position moved back, DELETE and TRUNCATE);
--   - the projections append one event's rows (INSERT ... ON CONFLICT DO NOTHING).
-- No UPDATE, DELETE or TRUNCATE on a projection: rebuilding the live projections
-- (`confide audit replay --apply`, after a projection's code changed) is the
-- operator's deliberate act, run with the administrator's login. No EXECUTE on
-- append_events: the projector records no events.
GRANT USAGE ON SCHEMA :"schema" TO confide_projector;
REVOKE ALL ON ALL TABLES IN SCHEMA :"schema" FROM confide_projector;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA :"schema" FROM confide_projector;
REVOKE ALL ON FUNCTION :"schema".append_events(text, bigint, uuid[], text[], text[], text[], timestamptz[], bytea[]) FROM confide_projector;
GRANT SELECT ON :"schema".events TO confide_projector;
GRANT SELECT, INSERT ON :"schema".event_chain TO confide_projector;
GRANT SELECT, INSERT, UPDATE ON :"schema".checkpoints TO confide_projector;
GRANT SELECT, INSERT ON :"schema".access_log_view, :"schema".disclosure_log_view, :"schema".accounting_view,
  :"schema".note_version_view TO confide_projector;
-- read_frontier() reads the position sequence's last_value (SELECT, never nextval/setval).
GRANT SELECT ON SEQUENCE :"schema".events_position_seq TO confide_projector;
GRANT EXECUTE ON FUNCTION :"schema".read_frontier() TO confide_projector;
