-- access owns credentials: passwords, token secrets, API keys.
CREATE TABLE credentials (
  tn_id         bigint PRIMARY KEY,
  id_tag        text NOT NULL UNIQUE,
  password_hash text,
  updated_at    timestamptz NOT NULL DEFAULT now()
);

-- HS256 secrets per tenant (PROTOCOL §13.2), sealed under the master key. The current
-- secret has no expiry; rotated ones verify until expires_at.
CREATE TABLE token_secrets (
  tn_id         bigint NOT NULL REFERENCES credentials(tn_id) ON DELETE CASCADE,
  kid           text NOT NULL,
  sealed_secret text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz,
  PRIMARY KEY (tn_id, kid)
);

-- `cl_…` keys: only a keyed hash is stored (PROTOCOL §13.3).
CREATE TABLE api_keys (
  key_id       bigserial PRIMARY KEY,
  tn_id        bigint NOT NULL REFERENCES credentials(tn_id) ON DELETE CASCADE,
  key_prefix   text NOT NULL,
  key_hash     text NOT NULL UNIQUE,
  name         text,
  scopes       text,
  expires_at   timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz
);
CREATE INDEX api_keys_by_tenant ON api_keys (tn_id);
