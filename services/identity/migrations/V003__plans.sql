-- Hosting plans: the quotas of the tenants assigned to one (0: unlimited). The gateway
-- and blob learn a tenant's limits from ResolveTenant, never from this table.
-- Expand-only: older binaries ignore the plan.
CREATE TABLE plans (
  name                text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  storage_bytes       bigint NOT NULL DEFAULT 0 CHECK (storage_bytes >= 0),
  requests_per_minute integer NOT NULL DEFAULT 0 CHECK (requests_per_minute >= 0),
  requests_per_day    integer NOT NULL DEFAULT 0 CHECK (requests_per_day >= 0),
  max_tenants         integer NOT NULL DEFAULT 0 CHECK (max_tenants >= 0),
  updated_at          timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE tenants ADD COLUMN plan text REFERENCES plans(name);
CREATE INDEX tenants_plan ON tenants(plan) WHERE plan IS NOT NULL;
