-- identity owns tenants, their signing keys, settings and the local profile cache.
CREATE TABLE tenants (
  tn_id       bigserial PRIMARY KEY,
  id_tag      text NOT NULL UNIQUE,
  type        text NOT NULL DEFAULT 'person' CHECK (type IN ('person', 'community')),
  status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
  name        text NOT NULL,
  email       text,
  profile_pic text,
  cover_pic   text,
  x           jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Private keys are sealed (AES-256-GCM) under the master key, which never reaches
-- the database; public_key is the published standard-base64 SPKI.
CREATE TABLE signing_keys (
  tn_id              bigint NOT NULL REFERENCES tenants(tn_id) ON DELETE CASCADE,
  key_id             text NOT NULL,
  public_key         text NOT NULL,
  sealed_private_key text NOT NULL,
  created_at         timestamptz NOT NULL DEFAULT now(),
  expires_at         timestamptz,
  PRIMARY KEY (tn_id, key_id)
);

-- tn_id 0 holds global (provider-wide) values; value is JSON text ('null' is a value).
CREATE TABLE settings (
  tn_id bigint NOT NULL,
  key   text NOT NULL,
  value text NOT NULL,
  PRIMARY KEY (tn_id, key)
);

-- What a tenant knows of other identities (relationship view, PROTOCOL §1.4).
CREATE TABLE profiles (
  tn_id          bigint NOT NULL REFERENCES tenants(tn_id) ON DELETE CASCADE,
  id_tag         text NOT NULL,
  name           text NOT NULL,
  type           text NOT NULL DEFAULT 'person',
  profile_pic    text,
  status         text,
  connected      boolean NOT NULL DEFAULT false,
  following      boolean NOT NULL DEFAULT false,
  follower       boolean NOT NULL DEFAULT false,
  trust          text,
  hidden_in_home boolean NOT NULL DEFAULT false,
  roles          text,
  feed_read_at   timestamptz,
  msg_read_at    timestamptz,
  PRIMARY KEY (tn_id, id_tag)
);
CREATE INDEX profiles_by_name ON profiles (tn_id, lower(name));
