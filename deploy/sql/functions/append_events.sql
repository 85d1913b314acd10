-- append_events: the one write path into the event store.
--
-- Order. Readers read only rows whose tx_id is below the oldest transaction
-- still running (pg_snapshot_xmin); see PostgresEventStore.read_all. That is a
-- gap-free prefix of the log *only if* positions are handed out in the same
-- order as transaction ids. So, under a session advisory lock held for a few
-- microseconds (not until commit, which keeps commits concurrent and lets
-- PostgreSQL group them), we assign this transaction's id and reserve a
-- contiguous block of positions, then release the lock and insert. A writer
-- whose transaction already had an id (it wrote something else first) could
-- break that order, so it is refused.
--
-- Concurrency. The expected version is checked here for a clear message, and
-- guaranteed by the UNIQUE (stream_name, stream_version) constraint when two
-- writers race: the loser's whole transaction aborts, nothing half-written.
--
-- Idempotency. If the first event id is already stored, the append is a retry:
-- nothing is written and the stored positions are returned (duplicate = true).
CREATE OR REPLACE FUNCTION :"schema".append_events(
  p_stream    text,
  p_expected  bigint,      -- -1: stream must not exist; NULL: any version
  p_ids       uuid[],
  p_types     text[],
  p_data      text[],
  p_metadata  text[],
  p_recorded  timestamptz[],
  p_hashes    bytea[]
) RETURNS TABLE (out_position bigint, out_version bigint, out_duplicate boolean)
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $fn$
DECLARE
  n        int := cardinality(p_ids);
  current  bigint;
  first_pos bigint;
BEGIN
  IF n IS NULL OR n = 0 THEN
    RAISE EXCEPTION 'append_events: no events given' USING ERRCODE = '22023';
  END IF;

  IF EXISTS (SELECT 1 FROM events e WHERE e.event_id = p_ids[1]) THEN
    RETURN QUERY
      SELECT e.global_position, e.stream_version, true
      FROM events e WHERE e.event_id = ANY (p_ids) ORDER BY e.global_position;
    RETURN;
  END IF;

  SELECT coalesce(max(e.stream_version), -1) INTO current
  FROM events e WHERE e.stream_name = p_stream;
  IF p_expected IS NOT NULL AND p_expected <> current THEN
    RAISE EXCEPTION 'wrong expected version for stream %: expected %, stream is at %',
      p_stream, p_expected, current
      USING ERRCODE = 'CF001', DETAIL = current::text;
  END IF;

  IF pg_current_xact_id_if_assigned() IS NOT NULL THEN
    RAISE EXCEPTION 'append_events must be the first write of its transaction'
      USING ERRCODE = '25000';
  END IF;
  PERFORM pg_advisory_lock(7240512001);
  PERFORM pg_current_xact_id();
  -- Every appender takes this lock, so the n values are contiguous.
  SELECT min(v) INTO first_pos
  FROM (SELECT nextval('events_position_seq') AS v FROM generate_series(1, n)) s;
  PERFORM pg_advisory_unlock(7240512001);

  RETURN QUERY
  INSERT INTO events AS e (global_position, stream_name, stream_version, event_id, type,
                           data, metadata, recorded_at, hash)
  SELECT first_pos + i - 1, p_stream, current + i, p_ids[i], p_types[i],
         p_data[i], p_metadata[i], p_recorded[i], p_hashes[i]
  FROM generate_subscripts(p_ids, 1) AS i
  RETURNING e.global_position, e.stream_version, false;
END
$fn$;
ALTER FUNCTION :"schema".append_events(text, bigint, uuid[], text[], text[], text[], timestamptz[], bytea[]) OWNER TO confide_owner;
