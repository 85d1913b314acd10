-- Every audit projection row is a function of one stored event (10_audit.sql): its global_position,
-- event_id and recorded_at are that event's. The audit service's login may INSERT projection rows
-- (privileges/projector.sql); this trigger keeps those inserts to rows of events that exist, with
-- their own id and time. Without it that login could write an access-log or disclosure-log row for
-- no event at all, or pre-empt a future position: the real decision's row, arriving later, would
-- meet ON CONFLICT DO NOTHING and be hidden. (What a row says of its event is the projection's own
-- code; `confide audit replay` compares every live row with a rebuild from the log.)
CREATE OR REPLACE FUNCTION :"schema".refuse_row_without_event() RETURNS trigger
LANGUAGE plpgsql SET search_path = :"schema", pg_temp AS $fn$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM events e WHERE e.global_position = NEW.global_position
                   AND e.event_id = NEW.event_id AND e.recorded_at = NEW.recorded_at) THEN
    RAISE EXCEPTION '% row at global position % is refused: no stored event has that position, id % and time',
      TG_TABLE_NAME, NEW.global_position, NEW.event_id USING ERRCODE = '42501';
  END IF;
  RETURN NEW;
END
$fn$;
ALTER FUNCTION :"schema".refuse_row_without_event() OWNER TO confide_owner;

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['access_log_view','disclosure_log_view','accounting_view','note_version_view'] LOOP
    EXECUTE format('DROP TRIGGER IF EXISTS %I ON %I.%I', t || '_of_an_event', current_schema(), t);
    EXECUTE format('CREATE TRIGGER %I BEFORE INSERT ON %I.%I FOR EACH ROW EXECUTE FUNCTION %I.refuse_row_without_event()',
                   t || '_of_an_event', current_schema(), t, current_schema());
  END LOOP;
END $$;
