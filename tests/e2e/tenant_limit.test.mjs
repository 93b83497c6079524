// The per-tenant rate limit holds across client addresses (PROTOCOL §13.9).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster } from './cluster.mjs';

const c = new Cluster({ CLOUDILLO_RATE_TENANT: '1/5' });
let busy, quiet;
before(async () => {
  await c.start();
  busy = c.createTenant('busy.limit.test');
  quiet = c.createTenant('quiet.limit.test');
});
after(() => c.stop());

test('a tenant over its budget gets 429 whatever the address; other tenants do not', async () => {
  let limited;
  for (let i = 0; i < 12 && !limited; i++) {
    const r = await c.api(busy.idTag, 'GET', '/api/me', { headers: { 'X-Forwarded-For': `203.0.113.${i + 1}` } });
    if (r.status === 429) limited = r;
  }
  assert.ok(limited, 'never limited');
  assert.equal(limited.json.error.code, 'E-RATE-LIMITED');
  assert.equal(limited.json.error.details.level, 'tenant');
  assert.equal((await c.api(quiet.idTag, 'GET', '/api/me')).status, 200);
});
