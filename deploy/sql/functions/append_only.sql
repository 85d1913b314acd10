-- Defence in depth beside the privileges: even the owner cannot UPDATE,
-- DELETE or TRUNCATE the event store or its chain. (A superuser can still
-- disable triggers; that is what `confide audit verify` and the signed
-- checkpoints outside the database are for.)
CREATE OR REPLACE FUNCTION :"schema".refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION '% on %.% is refused: the event store is append-only',
    TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME USING ERRCODE = '42501';
END
$fn$;
ALTER FUNCTION :"schema".refuse_change() OWNER TO confide_owner;

DROP TRIGGER IF EXISTS events_append_only ON :"schema".events;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON :"schema".events
  FOR EACH ROW EXECUTE FUNCTION :"schema".refuse_change();
DROP TRIGGER IF EXISTS events_no_truncate ON :"schema".events;
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON :"schema".events
  FOR EACH STATEMENT EXECUTE FUNCTION :"schema".refuse_change();

DROP TRIGGER IF EXISTS event_chain_append_only ON :"schema".event_chain;
CREATE TRIGGER event_chain_append_only BEFORE UPDATE OR DELETE ON :"schema".event_chain
  FOR EACH ROW EXECUTE FUNCTION :"schema".refuse_change();
DROP TRIGGER IF EXISTS event_chain_no_truncate ON :"schema".event_chain;
CREATE TRIGGER event_chain_no_truncate BEFORE TRUNCATE ON :"schema".event_chain
  FOR EACH STATEMENT EXECUTE FUNCTION :"schema".refuse_change();
