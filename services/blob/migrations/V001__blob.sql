-- blob owns stored bytes and the file records over them (PROTOCOL §4, §8 "Files").
-- Every primary key starts with tn_id (DESIGN "Data and scale").

-- One row per stored blob of a tenant: identical bytes are stored once per tenant,
-- however many variants or files refer to them.
CREATE TABLE blobs (
  tn_id      bigint NOT NULL,
  blob_id    text NOT NULL,            -- b1~ + base64url(sha256(bytes))
  size       bigint NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tn_id, blob_id)
);

-- File records: content-addressed (f1~…, a descriptor over blobs) or mutable
-- (24-character random ids: folders, CRDT and RTDB documents).
CREATE TABLE files (
  tn_id        bigint NOT NULL,
  file_id      text NOT NULL,
  parent_id    text,                   -- NULL: the root folder
  root_id      text,
  file_tp      text NOT NULL,          -- BLOB, CRDT, RTDB, FLDR
  file_name    text NOT NULL,
  content_type text,
  preset       text,
  descriptor   text,                   -- d2,… for BLOB files
  creator      text,                   -- id_tag of who made it
  visibility   char(1),                -- P, V, F, C or NULL (direct: owner only)
  status       char(1) NOT NULL DEFAULT 'A',  -- A active, D in the trash
  trashed_from text,                   -- parent_id before it went to the trash
  x            jsonb,
  tags         text[] NOT NULL DEFAULT '{}',
  created_at   timestamptz NOT NULL DEFAULT now(),
  modified_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tn_id, file_id)
);
CREATE INDEX files_by_parent ON files (tn_id, parent_id, created_at DESC, file_id);

-- The variants of a BLOB file, as its descriptor lists them.
CREATE TABLE file_variants (
  tn_id   bigint NOT NULL,
  file_id text NOT NULL,
  variant text NOT NULL,               -- orig, vis.tn, …
  blob_id text NOT NULL,
  format  text NOT NULL,
  size    bigint NOT NULL,
  width   int NOT NULL DEFAULT 0,
  height  int NOT NULL DEFAULT 0,
  PRIMARY KEY (tn_id, file_id, variant),
  FOREIGN KEY (tn_id, file_id) REFERENCES files (tn_id, file_id) ON DELETE CASCADE
);
CREATE INDEX file_variants_by_blob ON file_variants (tn_id, blob_id);

-- Per-user flags (PATCH /api/files/{id}/user).
CREATE TABLE file_user_data (
  tn_id       bigint NOT NULL,
  file_id     text NOT NULL,
  user_tag    text NOT NULL,
  pinned      boolean NOT NULL DEFAULT false,
  starred     boolean NOT NULL DEFAULT false,
  accessed_at timestamptz,
  PRIMARY KEY (tn_id, file_id, user_tag),
  FOREIGN KEY (tn_id, file_id) REFERENCES files (tn_id, file_id) ON DELETE CASCADE
);
