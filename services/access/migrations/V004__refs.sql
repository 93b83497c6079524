-- Refs (PROTOCOL §8 "Refs", §3.6): links that are themselves bearer credentials. A
-- `share.file` ref is exchanged by anyone holding it for an anonymous token scoped to
-- one file, so it lives with the other credentials; `count` NULL means unlimited uses,
-- 0 means used up (kept so the owner still sees it under filter=used).
-- Expand-only: binaries that do not know this table ignore it.
CREATE TABLE refs (
  tn_id        bigint NOT NULL REFERENCES credentials(tn_id) ON DELETE CASCADE,
  ref_id       text NOT NULL,
  type         text NOT NULL,
  description  text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz,
  count        integer CHECK (count IS NULL OR count >= 0),
  resource_id  text,
  access_level char(1) CHECK (access_level IN ('R', 'C', 'W')),
  params       text,
  PRIMARY KEY (tn_id, ref_id)
);
CREATE INDEX refs_by_resource ON refs (tn_id, resource_id);
