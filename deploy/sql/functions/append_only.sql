-- Defence in depth beside the privileges: even the owner cannot UPDATE,
-- DELETE or TRUNCATE the event store or its chain. (A superuser can still
-- disable triggers; that is what `confide audit verify` and the signed
-- checkpoints outside the database are for.)
CREATE OR REPLACE FUNCTION :"schema".refuse_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = :"schema", pg_temp AS $fn$
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

-- Checkpoints only move forward. A relay checkpoint moved back makes the relay
-- publish every event again; one moved back and forth hides which events a
-- subscriber really handled. An UPDATE may raise a position (or keep it), never
-- lower it or rename the row; DELETE and TRUNCATE are refused. The rule holds
-- for every role, the owner included; the privileges already keep confide_app and
-- the auditor to SELECT. (A superuser can still disable the trigger on purpose.)
-- Nor does a checkpoint (new or moved) go past the last position ever reserved
-- (the position sequence's last_value): a relay or projection checkpoint pushed
-- to 10^12 would skip every event still to come, for good. A skip within the log
-- is what `confide audit replay` finds (events the live projections miss).
CREATE OR REPLACE FUNCTION :"schema".refuse_checkpoint_rewind() RETURNS trigger
LANGUAGE plpgsql SET search_path = :"schema", pg_temp AS $fn$
DECLARE
  reserved bigint;
BEGIN
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    SELECT CASE WHEN is_called THEN last_value ELSE 0 END INTO reserved FROM events_position_seq;
    IF NEW.position < 0 OR NEW.position > reserved THEN
      RAISE EXCEPTION 'checkpoint % at position % is refused: the log ends at position %',
        NEW.name, NEW.position, reserved USING ERRCODE = '42501';
    END IF;
  END IF;
  IF TG_OP = 'INSERT' THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    IF NEW.name IS DISTINCT FROM OLD.name THEN
      RAISE EXCEPTION 'renaming checkpoint % is refused: checkpoints only move forward', OLD.name
        USING ERRCODE = '42501';
    END IF;
    IF NEW.position < OLD.position THEN
      RAISE EXCEPTION 'moving checkpoint % back from % to % is refused: checkpoints only move forward',
        OLD.name, OLD.position, NEW.position USING ERRCODE = '42501';
    END IF;
    RETURN NEW;
  END IF;
  RAISE EXCEPTION '% on %.% is refused: checkpoints only move forward',
    TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME USING ERRCODE = '42501';
END
$fn$;
ALTER FUNCTION :"schema".refuse_checkpoint_rewind() OWNER TO confide_owner;

DROP TRIGGER IF EXISTS checkpoints_forward_only ON :"schema".checkpoints;
CREATE TRIGGER checkpoints_forward_only BEFORE INSERT OR UPDATE OR DELETE ON :"schema".checkpoints
  FOR EACH ROW EXECUTE FUNCTION :"schema".refuse_checkpoint_rewind();
DROP TRIGGER IF EXISTS checkpoints_no_truncate ON :"schema".checkpoints;
CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON :"schema".checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION :"schema".refuse_checkpoint_rewind();
