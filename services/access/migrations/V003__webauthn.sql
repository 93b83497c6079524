-- Passkeys (PROTOCOL §3.7). The public key is SubjectPublicKeyInfo DER in base64,
-- read once from the authenticator's COSE key; alg is the COSE algorithm (-7 ES256,
-- -8 EdDSA, -257 RS256). sign_count only grows (a lower one marks a cloned
-- authenticator). Expand-only: binaries that do not know this table ignore it.
CREATE TABLE webauthn_credentials (
  tn_id         bigint NOT NULL REFERENCES credentials(tn_id) ON DELETE CASCADE,
  credential_id text NOT NULL,  -- base64url of the raw credential id
  public_key    text NOT NULL,
  alg           integer NOT NULL,
  sign_count    bigint NOT NULL DEFAULT 0,
  description   text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tn_id, credential_id)
);
