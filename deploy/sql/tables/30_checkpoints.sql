-- Subscription checkpoints: one row per subscriber (projection, relay, sealer).
-- A projection writes its checkpoint in the same transaction as its own rows.
CREATE TABLE IF NOT EXISTS :"schema".checkpoints (
  name       text   PRIMARY KEY,
  position   bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE :"schema".checkpoints OWNER TO confide_owner;
