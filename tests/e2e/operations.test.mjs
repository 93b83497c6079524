// Operators' endpoints, graceful shutdown, restarts that keep data, key rotation,
// rate limits and bans.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster, request } from './cluster.mjs';

const c = new Cluster({ CLOUDILLO_RATE_AUTH: '1/3,1000/1000,1000/1000,1000/1000' });
let alice;
before(async () => {
  await c.start();
  alice = c.createTenant('alice.ops.test');
});
after(() => c.stop());

test('every process serves /metrics, /healthz and /readyz', async () => {
  await c.api(alice.idTag, 'GET', '/api/me');
  for (const port of [c.ports.opsG, c.ports.opsI, c.ports.opsA]) {
    assert.equal((await request(port, 'localhost', 'GET', '/healthz')).status, 200);
    assert.equal((await request(port, 'localhost', 'GET', '/readyz')).status, 200);
  }
  const gw = await request(c.ports.opsG, 'localhost', 'GET', '/metrics');
  assert.match(gw.text, /cloudillo_http_requests_total\{method="GET",route="\/api\/me",status="200"\} \d+/);
  assert.match(gw.text, /cloudillo_http_request_duration_seconds_bucket/);
  assert.match(gw.text, /cloudillo_http_in_flight/);
  const id = await request(c.ports.opsI, 'localhost', 'GET', '/metrics');
  assert.match(id.text, /cloudillo_grpc_server_calls_total\{code="0",method="\/cloudillo\.v1\.IdentityEdge\/GetMe"\}/);
});

test('rate limits answer 429 with the reference body and headers', async () => {
  const other = { 'X-Forwarded-For': '203.0.113.77' };
  let limited;
  for (let i = 0; i < 10 && !limited; i++) {
    const r = await c.api(alice.idTag, 'POST', '/api/auth/login-init', { body: {}, headers: other });
    if (r.status === 429) limited = r;
  }
  assert.ok(limited, 'never limited');
  assert.equal(limited.json.error.code, 'E-RATE-LIMITED');
  assert.equal(limited.json.error.message, 'Too many requests. Please slow down.');
  assert.equal(limited.json.error.details.level, 'ipv4_individual');
  assert.equal(typeof limited.json.error.details.retryAfter, 'number');
  assert.equal(limited.headers['x-ratelimit-level'], 'ipv4_individual');
  assert.ok('retry-after' in limited.headers);
  // Another client address is not affected.
  const mine = await c.api(alice.idTag, 'POST', '/api/auth/login-init', { body: {}, headers: { 'X-Forwarded-For': '203.0.113.200' } });
  assert.equal(mine.status, 200);
});

test('twenty failed logins ban the address; the admin CLI lifts the ban', async () => {
  const ip = `192.0.2.${10 + Math.floor(Math.random() * 200)}`;
  const headers = { 'X-Forwarded-For': ip };
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, 1050));  // stay under the auth bucket set above
    const r = await c.api(alice.idTag, 'POST', '/api/auth/login', { body: { idTag: alice.idTag, password: 'wrong-password' }, headers });
    if (r.status === 429) { i--; continue; }
    assert.equal(r.status, 403);
  }
  const banned = await c.api(alice.idTag, 'POST', '/api/auth/login', { body: { idTag: alice.idTag, password: alice.password }, headers });
  assert.equal(banned.status, 403);
  assert.equal(banned.json.error.code, 'E-RATE-BANNED');
  assert.ok(banned.json.error.details.remainingSecs > 3500);
  c.admin('ban', 'lift', ip);
  await new Promise((r) => setTimeout(r, 1100));
  const ok = await c.api(alice.idTag, 'POST', '/api/auth/login', { body: { idTag: alice.idTag, password: alice.password }, headers });
  assert.equal(ok.status, 200, ok.text);
});

test('SIGTERM drains and exits 0; a restart keeps tenants, keys, sessions and settings', async () => {
  const token = await c.login(alice);
  const put = await c.api(alice.idTag, 'PUT', '/api/settings/ui.theme', { token, body: { value: 'opaque' } });
  assert.equal(put.status, 200);
  const me = await c.api(alice.idTag, 'GET', '/api/me');
  const codes = await c.stopServices();
  assert.deepEqual(codes, { identity: 0, access: 0, action: 0, blob: 0, collab: 0, gateway: 0 });
  await c.startServices();
  const me2 = await c.api(alice.idTag, 'GET', '/api/me');
  assert.deepEqual(me2.json.data, me.json.data);
  assert.equal(me2.headers.etag, me.headers.etag);
  const s = await c.api(alice.idTag, 'GET', '/api/settings/ui.theme', { token });
  assert.equal(s.status, 200);
  assert.equal(s.json.data.value, 'opaque');
  assert.equal((await c.api(alice.idTag, 'POST', '/api/auth/login', { body: { idTag: alice.idTag, password: alice.password } })).status, 200);
});

test('the admin CLI lists tenants and rotates signing keys, old ones stay listed', async () => {
  assert.match(c.admin('tenant', 'list'), /alice\.ops\.test\tperson\tactive/);
  const line = c.admin('key', 'rotate', alice.idTag).trim();
  const [keyId, publicKey] = line.split('\t');
  assert.match(keyId, /^\d{6}b$/);
  const me = await c.api(alice.idTag, 'GET', '/api/me');
  assert.equal(me.json.data.keys.length, 2);
  assert.ok(me.json.data.keys[0].expiresAt);
  assert.deepEqual(me.json.data.keys[1], { keyId, publicKey });
  assert.throws(() => c.admin('tenant', 'create', 'bad_name.test'), /valid id_tag/);
});

test('a service with bad configuration refuses to start with a clear message', async () => {
  const { spawnSync } = await import('node:child_process');
  const path = await import('node:path');
  const build = process.env.CLOUDILLO_BUILD_DIR || path.resolve(new URL('../../build', import.meta.url).pathname);
  const r = spawnSync(path.join(build, 'services/identity/cloudillo-identity'), ['--db-pool-size=0', '--bogus=1'], {
    env: { PATH: process.env.PATH }, encoding: 'utf8',
  });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /CLOUDILLO_DATABASE_URL is required/);
  assert.match(r.stderr, /CLOUDILLO_DB_POOL_SIZE='0'/);
  assert.match(r.stderr, /--bogus/);
  assert.match(r.stderr, /CLOUDILLO_ADMIN_TOKEN is required/);
});

test('a deleted tenant is gone from every route; its id can be registered again', async () => {
  const pause = () => new Promise((res) => setTimeout(res, 1100));  // this cluster's auth bucket is 1/s
  const gone = c.createTenant('gone.ops.test');
  await pause();
  const token = await c.login(gone);
  c.admin('tenant', 'delete', gone.idTag);
  let r;
  for (let i = 0; i < 20; i++) {
    r = await c.api(gone.idTag, 'GET', '/api/me');
    if (r.status === 403) break;
    await new Promise((res) => setTimeout(res, 50));
  }
  assert.equal(r.status, 403);
  assert.equal((await c.api(gone.idTag, 'GET', '/api/settings', { token })).status, 403);
  assert.doesNotMatch(c.admin('tenant', 'list'), /gone\.ops\.test/);
  const again = c.createTenant('gone.ops.test', 'another-password');
  assert.equal((await c.api(gone.idTag, 'GET', '/api/settings', { token })).status, 401);  // old secret is gone
  await pause();
  assert.ok(await c.login(again));
});
