-- append_events: the one write path into the event store.
--
-- Order. A reader must never see position N and later find a new event below
-- N. Positions come from a sequence, so a writer can take a lower position and
-- commit after a writer with a higher one. Each appender therefore takes, BEFORE
-- it draws its positions, a transaction-level shared advisory lock whose key
-- encodes the event store's schema and the next position the sequence will hand
-- out (read from the sequence, not drawn). That lock is the appender's "in
-- flight" mark: every position it then draws is at or above the mark, and
-- PostgreSQL drops the mark exactly when the transaction commits or aborts.
-- (Advisory locks are per database; the schema tag keeps one event store's open
-- appends from holding back another's readers.)
-- Readers ask `read_frontier()`, which reads the sequence FIRST and the marks
-- SECOND, and read only below the lowest mark (or, with none, one past the last
-- position handed out). Why that never skips: a position p the reader counted
-- as handed out was drawn before its read of the sequence, so p's mark (taken
-- before p was drawn) was already held when it read the marks, unless p's
-- transaction had ended, i.e. p is final; a position drawn later is above what
-- it read. No lock orders appenders against each other or against readers, so
-- concurrent appends do not queue (an earlier version reserved blocks under a
-- session lock every appender and reader took). The sequence must keep CACHE 1
-- (tables/10_events.sql): with a cache a session could hand out values below
-- last_value. Positions of one batch ascend; they need not be contiguous.
--
-- Concurrency. The expected version is checked here for a clear message, and
-- guaranteed by the UNIQUE (stream_name, stream_version) constraint when two
-- writers race: the loser's whole transaction aborts, nothing half-written.
-- With p_expected NULL ("any version") the stream's version is read here and
-- the events appended after it, in the same call (one round trip).
--
-- Idempotency. If every event id is already stored in this stream, the append
-- is a retry: nothing is written and the stored positions are returned
-- (duplicate = true). A batch mixing stored and new ids, or reusing an id of
-- another stream, is refused (CF002) rather than half-honoured. The ids are
-- looked up only when the expected version does not hold (a retry of an append
-- that went through finds the stream moved on) or no version is expected; on
-- the usual path an id stored elsewhere surfaces as a unique violation on
-- event_id, which the client sorts into a retry or CF002 the same way
-- (confide.eventstore.store.PostgresEventStore._retried).
--
-- What the caller states is checked, since whoever holds the services' login can
-- call this directly (CF002, nothing written): each hash must be the SHA-256 of
-- the event's canonical record (confide.envelope.canonical_record, rebuilt here
-- from the arguments and the version it gets) -- a row whose bytes do not match
-- its hash can never be sealed nor removed, so the sealer would stop for good
-- and every verify fail from there; recorded_at must be within five minutes of
-- the database's clock (a back-dated event would be a fact "on file" for
-- decisions already made: as-of reads and re-judging go by recorded_at); data
-- and metadata must be JSON (22P02 otherwise).
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
-- Runs as the owner: the services' role may not INSERT into events directly,
-- only through this function (which checks versions, ids and ordering).
-- search_path names pg_temp LAST: unnamed, PostgreSQL searches the caller's
-- temporary schema FIRST, and any login with TEMPORARY on the database (the
-- services' has it) could shadow "events" or "events_position_seq" with a table
-- of its own whose trigger then runs as the owner (CVE-2018-1058's pattern).
SECURITY DEFINER
SET search_path = :"schema", pg_temp
AS $fn$
DECLARE
  n         int := cardinality(p_ids);
  current   bigint;
  positions bigint[];
  stored    int;
  elsewhere int;
  bad      int;
  -- the bounds of recorded_at, read from the clock once (not twice per event)
  earliest  timestamptz := clock_timestamp() - interval '5 minutes';
  latest    timestamptz := clock_timestamp() + interval '5 minutes';
  -- the canonical record's parts every event of the batch shares, encoded once
  stream_json text := to_json(p_stream)::text;
BEGIN
  IF n IS NULL OR n = 0 THEN
    RAISE EXCEPTION 'append_events: no events given' USING ERRCODE = '22023';
  END IF;
  IF cardinality(p_types) IS DISTINCT FROM n OR cardinality(p_data) IS DISTINCT FROM n
     OR cardinality(p_metadata) IS DISTINCT FROM n OR cardinality(p_recorded) IS DISTINCT FROM n
     OR cardinality(p_hashes) IS DISTINCT FROM n THEN
    RAISE EXCEPTION 'append_events: every argument array must hold % events', n USING ERRCODE = 'CF002';
  END IF;
  SELECT count(*) INTO bad FROM unnest(p_recorded) AS r
  WHERE r IS NULL OR r < earliest OR r > latest;
  IF bad > 0 THEN
    RAISE EXCEPTION 'append_events: % recorded_at value(s) are not within five minutes of now', bad
      USING ERRCODE = 'CF002';
  END IF;
  PERFORM count(d::jsonb) FROM unnest(p_data || p_metadata) AS d;  -- 22P02 for text that is not JSON

  SELECT coalesce(max(e.stream_version), -1) INTO current
  FROM events e WHERE e.stream_name = p_stream;
  IF p_expected IS NULL OR p_expected <> current THEN
    SELECT count(*), count(*) FILTER (WHERE e.stream_name <> p_stream) INTO stored, elsewhere
    FROM events e WHERE e.event_id = ANY (p_ids);
    IF elsewhere > 0 THEN
      RAISE EXCEPTION 'append_events: % of these event ids are stored in another stream', elsewhere
        USING ERRCODE = 'CF002';
    ELSIF stored = n THEN  -- a retry of an append that succeeded: report it, write nothing
      RETURN QUERY
        SELECT e.global_position, e.stream_version, true
        FROM events e WHERE e.event_id = ANY (p_ids) ORDER BY e.global_position;
      RETURN;
    ELSIF stored > 0 THEN  -- some stored, some new: not a retry; refuse rather than drop the new ones
      RAISE EXCEPTION 'append_events: % of % event ids are already stored (a batch is all new or a retry)',
        stored, n USING ERRCODE = 'CF002';
    ELSIF p_expected IS NOT NULL THEN
      RAISE EXCEPTION 'wrong expected version for stream %: expected %, stream is at %',
        p_stream, p_expected, current
        USING ERRCODE = 'CF001', DETAIL = current::text;
    END IF;
  END IF;

  SELECT count(*) INTO bad FROM generate_subscripts(p_ids, 1) AS i
  WHERE p_hashes[i] IS DISTINCT FROM sha256(convert_to(
      '{"data":' || p_data[i] || ',"event_id":' || to_json(p_ids[i]::text)::text
      || ',"metadata":' || p_metadata[i]
      || ',"recorded_at":' || to_json(to_char(p_recorded[i] AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))::text
      || ',"stream_name":' || stream_json || ',"stream_version":' || (current + i)::text
      || ',"type":' || to_json(p_types[i])::text || '}', 'UTF8'));
  IF bad > 0 THEN
    RAISE EXCEPTION 'append_events: % of % hashes are not the SHA-256 of their event''s canonical record', bad, n
      USING ERRCODE = 'CF002';
  END IF;

  -- The in-flight mark (2^62 + schema tag (20 bits) * 2^40 + position), then the positions.
  PERFORM pg_advisory_xact_lock_shared(
    4611686018427387904 + ((hashtext(current_schema()) & 1048575)::bigint << 40)
    + (SELECT CASE WHEN s.is_called THEN s.last_value + 1 ELSE s.last_value END FROM events_position_seq s));
  IF n = 1 THEN
    positions := ARRAY[nextval('events_position_seq')];
  ELSE
    SELECT array_agg(v ORDER BY v) INTO positions
    FROM (SELECT nextval('events_position_seq') AS v FROM generate_series(1, n)) s;
  END IF;
  IF positions[n] >= 1099511627776 THEN  -- 2^40: the mark's position bits
    RAISE EXCEPTION 'append_events: global position % is beyond the in-flight mark''s range', positions[n]
      USING ERRCODE = '22003';
  END IF;

  RETURN QUERY
  INSERT INTO events AS e (global_position, stream_name, stream_version, event_id, type,
                           data, metadata, recorded_at, hash)
  SELECT positions[i], p_stream, current + i, p_ids[i], p_types[i],
         p_data[i], p_metadata[i], p_recorded[i], p_hashes[i]
  FROM generate_subscripts(p_ids, 1) AS i
  RETURNING e.global_position, e.stream_version, false;
END
$fn$;
ALTER FUNCTION :"schema".append_events(text, bigint, uuid[], text[], text[], text[], timestamptz[], bytea[]) OWNER TO confide_owner;

-- read_frontier: readers read only positions below this (see above).
-- In-flight marks are keys 2^62 + schema tag * 2^40 + position (pg_locks shows a
-- bigint key as classid = high 32 bits, objid = low 32 bits, objsubid = 1); only
-- this schema's tag counts (another schema whose tag collides only holds readers
-- back, never lets them skip). The sequence is read BEFORE the marks: that order
-- is what makes the frontier safe without a lock (see append_events above).
CREATE OR REPLACE FUNCTION :"schema".read_frontier() RETURNS bigint
LANGUAGE plpgsql
SET search_path = :"schema", pg_temp
AS $fn$
DECLARE
  inflight bigint;
  reserved bigint;
  tag      bigint := (hashtext(current_schema()) & 1048575)::bigint;
BEGIN
  SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END INTO reserved FROM events_position_seq;
  SELECT min(k.mark & 1099511627775) INTO inflight
  FROM (SELECT ((l.classid::bigint << 32) | l.objid::bigint) - 4611686018427387904 AS mark
        FROM pg_locks l
        WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND l.classid >= 1073741824) k
  WHERE k.mark >> 40 = tag;
  RETURN least(coalesce(inflight, reserved + 1), reserved + 1);
END
$fn$;
ALTER FUNCTION :"schema".read_frontier() OWNER TO confide_owner;
