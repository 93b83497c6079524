-- collab owns the update logs of live documents (PROTOCOL §5.3). Every primary key
-- starts with tn_id (DESIGN "Data and scale").

-- One row per accepted Yjs update (encoding v1), in commit order per document:
-- writers of one document are serialised by an advisory lock, so `seq` order is
-- commit order. Compaction replaces a run of rows by one merged row that keeps the
-- run's last seq.
CREATE TABLE crdt_updates (
  tn_id      bigint NOT NULL,
  doc_id     text NOT NULL,
  seq        bigint NOT NULL,
  bytes      bytea NOT NULL,
  id_tag     text NOT NULL DEFAULT '',   -- who sent it; '' for the server's own
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tn_id, doc_id, seq)
);
