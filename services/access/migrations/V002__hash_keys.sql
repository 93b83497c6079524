-- Keys for keyed hashes (the API-key HMAC key), sealed under the master key so that a
-- master-key rotation reseals them instead of invalidating every stored hash.
-- Expand-only: binaries that do not know this table ignore it.
CREATE TABLE hash_keys (
  name       text PRIMARY KEY,
  sealed_key text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
