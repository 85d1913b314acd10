-- The event store: one row per event, append-only.
--
-- global_position: unique, from a sequence; readers read only below the
--   oldest position still in flight (functions/append_events.sql), so what
--   they see is always a prefix of the committed log. Aborted appends leave
--   holes in the numbering; readers never wait on holes, and the hash chain
--   (event_chain) numbers events densely.
-- data, metadata: RFC 8785 canonical JSON *text*, hashed byte for byte
--   (jsonb would reorder keys and break the hash).
-- hash: SHA-256 of the canonical record (confide.envelope.canonical_record).
CREATE SEQUENCE IF NOT EXISTS :"schema".events_position_seq AS bigint;
ALTER SEQUENCE :"schema".events_position_seq OWNER TO confide_owner;
-- CACHE 1 (the default, pinned): read_frontier relies on no session holding values below last_value.
ALTER SEQUENCE :"schema".events_position_seq CACHE 1;

CREATE TABLE IF NOT EXISTS :"schema".events (
  global_position bigint      PRIMARY KEY,
  stream_name     text        NOT NULL CHECK (stream_name <> ''),
  stream_version  bigint      NOT NULL CHECK (stream_version >= 0),
  event_id        uuid        NOT NULL UNIQUE,
  type            text        NOT NULL CHECK (type <> ''),
  data            text        NOT NULL,
  metadata        text        NOT NULL,
  recorded_at     timestamptz NOT NULL,
  hash            bytea       NOT NULL CHECK (length(hash) = 32),
  category        text        GENERATED ALWAYS AS (split_part(stream_name, '-', 1)) STORED,
  CONSTRAINT events_stream_version_key UNIQUE (stream_name, stream_version)
);
ALTER TABLE :"schema".events OWNER TO confide_owner;
CREATE INDEX IF NOT EXISTS events_category_idx ON :"schema".events (category, global_position);

-- A patient's notes and authorizations without scanning every note of the
-- practice: a partial expression index over the events that open those streams
-- (only they are parsed as jsonb, so other appends pay nothing). The type list is
-- rendered from confide.contracts.patient_index at install time. An index built
-- from an older list (SudCounselingNoteDrafted was added with 42 CFR Part 2's SUD
-- counseling notes) lacks a type: it is dropped here and built again below.
DO $$
DECLARE
  idx regclass := to_regclass(':"schema".events_patient_idx');
BEGIN
  IF idx IS NOT NULL AND EXISTS (
      SELECT 1 FROM unnest(ARRAY[:patient_indexed_types]::text[]) AS t(name)
      WHERE position(quote_literal(t.name) IN pg_get_indexdef(idx)) = 0) THEN
    EXECUTE format('DROP INDEX %s', idx);
  END IF;
END
$$;
CREATE INDEX IF NOT EXISTS events_patient_idx ON :"schema".events (((data::jsonb) ->> 'patient_id'), type)
  WHERE type IN (:patient_indexed_types);
