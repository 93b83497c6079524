-- The real-time database (PROTOCOL §6): one JSONB row per document. Every key starts
-- with tn_id (DESIGN "Data and scale"); the same file id in two tenants never meets.

CREATE TABLE rtdb_docs (
  tn_id       bigint NOT NULL,
  file_id     text NOT NULL,
  path        text COLLATE "C" NOT NULL,   -- posts/<id>/comments/<id>
  parent_path text COLLATE "C" NOT NULL,   -- the collection holding it
  doc         jsonb NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tn_id, file_id, path)
);
-- Queries and `children` subscriptions list one collection.
CREATE INDEX rtdb_docs_parent ON rtdb_docs (tn_id, file_id, parent_path, path);

-- Locks are shared by every replica. A row whose expires_at passed is free; the
-- holding connection pushes it forward while it lives.
CREATE TABLE rtdb_locks (
  tn_id      bigint NOT NULL,
  file_id    text NOT NULL,
  path       text COLLATE "C" NOT NULL,
  holder     text NOT NULL,                -- id_tag, or anon:<connId>
  hard       boolean NOT NULL,
  conn_id    text NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (tn_id, file_id, path)
);
CREATE INDEX rtdb_locks_conn ON rtdb_locks (tn_id, file_id, conn_id);

-- Fields with an expression index on rtdb_docs (createIndex); bounded in number.
CREATE TABLE rtdb_indexes (
  field      text PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT now()
);
