-- History sync (PROTOCOL §2.10, E9): one pull of a peer's outbox per (tenant, peer),
-- queued when a link forms and leased like deliveries (next_at moved past the
-- request's deadline), so a pull survives a restart and replicas share the work.
CREATE TABLE history_sync (
  tn_id        bigint NOT NULL,
  peer         text NOT NULL,
  tenant       text NOT NULL,              -- the pulling tenant's id_tag
  state        text NOT NULL DEFAULT 'Q',  -- Q queued, D done, F failed
  attempts     integer NOT NULL DEFAULT 0,
  refused      integer NOT NULL DEFAULT 0, -- 401/403 answers seen (E9: one retry)
  next_at      timestamptz NOT NULL DEFAULT now(),
  last_error   text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  done_at      timestamptz,
  PRIMARY KEY (tn_id, peer)
);
CREATE INDEX history_sync_due ON history_sync (next_at) WHERE state = 'Q';
