-- Share entries (PROTOCOL §4.5, §8 "shares"): a file opened to one identity (an
-- id_tag, local or remote) with a permission, until an optional expiry.
CREATE TABLE file_shares (
  tn_id       bigint NOT NULL,
  share_id    bigint GENERATED ALWAYS AS IDENTITY,
  file_id     text NOT NULL,
  subject_id  text NOT NULL,            -- the id_tag the file is shared with
  permission  char(1) NOT NULL CHECK (permission IN ('R', 'C', 'W')),
  created_by  text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz,
  PRIMARY KEY (tn_id, share_id),
  UNIQUE (tn_id, file_id, subject_id),
  FOREIGN KEY (tn_id, file_id) REFERENCES files (tn_id, file_id) ON DELETE CASCADE
);
CREATE INDEX file_shares_by_subject ON file_shares (tn_id, subject_id);
