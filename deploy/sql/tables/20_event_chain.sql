-- The keyed hash chain, written by the single sealer after commit (off the
-- appenders' critical path). chain_index is dense (0, 1, 2, ...) in global
-- order; mac = HMAC-SHA256(chain key, previous mac || chain_index || global_position || events.hash).
-- The chain key lives in the key directory, never in the database.
CREATE TABLE IF NOT EXISTS :"schema".event_chain (
  chain_index     bigint PRIMARY KEY CHECK (chain_index >= 0),
  global_position bigint NOT NULL UNIQUE REFERENCES :"schema".events (global_position),
  mac             bytea  NOT NULL CHECK (length(mac) = 32),
  sealed_at       timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE :"schema".event_chain OWNER TO confide_owner;
