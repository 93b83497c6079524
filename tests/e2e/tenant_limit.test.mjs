// The per-tenant budget (PROTOCOL §13.9) is spent only by requests that proved they act
// for the tenant, from whatever address; strangers flooding a tenant's host cannot
// spend it and lock its owner out.
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

test('anonymous floods do not spend a tenant budget; authenticated use does, from any address', async () => {
  // 40 anonymous requests from many addresses: the owner is not locked out by them.
  for (let i = 0; i < 40; i++) {
    const r = await c.api(busy.idTag, 'GET', '/api/me', { headers: { 'X-Forwarded-For': `203.0.113.${i + 1}` } });
    assert.equal(r.status, 200, r.text);
  }
  const token = await c.login(busy);
  let limited;
  for (let i = 0; i < 12 && !limited; i++) {
    const r = await c.api(busy.idTag, 'GET', '/api/me/full', { token, headers: { 'X-Forwarded-For': `198.51.100.${i + 1}` } });
    if (r.status === 429) limited = r;
    else assert.equal(r.status, 200, r.text);
  }
  assert.ok(limited, 'never limited');
  assert.equal(limited.json.error.code, 'E-RATE-LIMITED');
  assert.equal(limited.json.error.details.level, 'tenant');
  assert.equal((await c.api(quiet.idTag, 'GET', '/api/me')).status, 200);
  const quietToken = await c.login(quiet);
  assert.equal((await c.api(quiet.idTag, 'GET', '/api/me/full', { token: quietToken })).status, 200);
});
