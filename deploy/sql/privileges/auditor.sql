-- The auditor's read-only role (roles.sql): `confide audit verify` and `prove`
-- read the log, the keyed chain, the relay checkpoints and the audit projections;
-- nothing else, and no way to write anything (45 CFR 164.312(b), (c)(1)).
-- Reading the log's head goes through read_frontier() (SECURITY INVOKER, executable
-- by PUBLIC), which reads the position sequence: SELECT on the sequence lets it read
-- last_value, never nextval/setval. No EXECUTE on append_events (revoked from PUBLIC
-- in event_store.sql, and from the auditor here in case a grant ever widens).
GRANT USAGE ON SCHEMA :"schema" TO confide_auditor;
REVOKE ALL ON ALL TABLES IN SCHEMA :"schema" FROM confide_auditor;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA :"schema" FROM confide_auditor;
REVOKE ALL ON FUNCTION :"schema".append_events(text, bigint, uuid[], text[], text[], text[], timestamptz[], bytea[]) FROM confide_auditor;
GRANT SELECT ON :"schema".events, :"schema".event_chain, :"schema".checkpoints TO confide_auditor;
GRANT SELECT ON :"schema".access_log_view, :"schema".disclosure_log_view, :"schema".accounting_view,
  :"schema".note_version_view TO confide_auditor;
GRANT SELECT ON SEQUENCE :"schema".events_position_seq TO confide_auditor;
