-- Deletion with a grace period: a tenant scheduled for deletion has status 'deleting'
-- (served like a suspended one: the gateway admits only 'active') until delete_after,
-- when the admin API's PurgeTenants removes it. Expand-only: older binaries never write
-- 'deleting' and treat it as not active.
ALTER TABLE tenants ADD COLUMN delete_after timestamptz;
ALTER TABLE tenants DROP CONSTRAINT tenants_status_check;
ALTER TABLE tenants ADD CONSTRAINT tenants_status_check CHECK (status IN ('active', 'suspended', 'deleting'));
