-- Audit projections: every row is a pure function of one event (audit.projections),
-- keyed by the event's global position, so a rebuild from position 1 gives
-- identical rows and re-delivery of a message is a no-op.
CREATE TABLE IF NOT EXISTS :"schema".access_log_view (
  global_position bigint PRIMARY KEY,
  event_id        uuid NOT NULL UNIQUE,
  recorded_at     timestamptz NOT NULL,
  decision_id     text,
  requester_id    text,
  requester_role  text,
  requester_org   text,
  patient_id      text,
  note_id         text,
  note_kind       text,
  purpose         text,
  action          text,
  decision        text,
  rule            text,
  request_id      text,
  note_ids        text[]
);
CREATE INDEX IF NOT EXISTS access_log_patient_idx ON :"schema".access_log_view (patient_id, global_position);
-- Every note a decision covers (``note_ids``: a disclosure request's notes, a patient's copy, or
-- the one note read), so "who has seen my notes" finds a decision on several notes, not only those
-- with ``note_id`` set. Added in place to a table installed before it (same column order either
-- way), and filled for the rows already there from their own events, as a rebuild would fill them.
ALTER TABLE :"schema".access_log_view ADD COLUMN IF NOT EXISTS note_ids text[];
UPDATE :"schema".access_log_view a SET note_ids = CASE
    WHEN jsonb_typeof(e.data::jsonb -> 'note_ids') = 'array' AND jsonb_array_length(e.data::jsonb -> 'note_ids') > 0
      THEN ARRAY(SELECT jsonb_array_elements_text(e.data::jsonb -> 'note_ids'))
    WHEN a.note_id IS NOT NULL THEN ARRAY[a.note_id]
    ELSE '{}'::text[] END
  FROM :"schema".events e WHERE a.note_ids IS NULL AND e.global_position = a.global_position;
-- "Which decisions concern any of these notes" (note_ids && ARRAY[...]): a GIN index answers the
-- overlap without reading the whole log (projection_store.access_log_on_notes_by).
CREATE INDEX IF NOT EXISTS access_log_note_ids_idx ON :"schema".access_log_view USING gin (note_ids);

CREATE TABLE IF NOT EXISTS :"schema".disclosure_log_view (
  global_position bigint PRIMARY KEY,
  event_id        uuid NOT NULL UNIQUE,
  recorded_at     timestamptz NOT NULL,
  request_id      text NOT NULL,
  event_type      text NOT NULL,
  patient_id      text,
  requester_org   text,
  requester_role  text,
  purpose         text,
  note_kind       text,
  status          text,
  decision        text,
  rule            text,
  fields_released text
);
CREATE INDEX IF NOT EXISTS disclosure_log_request_idx ON :"schema".disclosure_log_view (request_id, global_position);

CREATE TABLE IF NOT EXISTS :"schema".accounting_view (
  global_position bigint PRIMARY KEY,
  event_id        uuid NOT NULL UNIQUE,
  recorded_at     timestamptz NOT NULL,
  patient_id      text NOT NULL,
  disclosed_at    text,
  recipient       text,
  purpose         text,
  description     text,
  request_id      text
);
CREATE INDEX IF NOT EXISTS accounting_patient_idx ON :"schema".accounting_view (patient_id, global_position);

CREATE TABLE IF NOT EXISTS :"schema".note_version_view (
  global_position bigint PRIMARY KEY,
  event_id        uuid NOT NULL UNIQUE,
  recorded_at     timestamptz NOT NULL,
  note_id         text NOT NULL,
  note_kind       text NOT NULL,
  stream_version  bigint NOT NULL,
  event_type      text NOT NULL,
  patient_id      text,
  actor_id        text
);
CREATE INDEX IF NOT EXISTS note_version_note_idx ON :"schema".note_version_view (note_id, stream_version);
-- "The notes this person drafted" (actor_id of a *Drafted event) without reading every version.
CREATE INDEX IF NOT EXISTS note_version_actor_idx ON :"schema".note_version_view (actor_id, event_type) INCLUDE (note_id);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['access_log_view','disclosure_log_view','accounting_view','note_version_view'] LOOP
    -- Who may read and write them: privileges/ (confide_app reads, confide_projector appends).
    EXECUTE format('ALTER TABLE %I.%I OWNER TO confide_owner', current_schema(), t);
  END LOOP;
END $$;
