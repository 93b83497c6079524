// One tenant can never read or change another tenant's data through any route,
// whatever Host it sends (PROTOCOL §9.1, §13.2, §13.11).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster } from './cluster.mjs';

const c = new Cluster();
let a, b, tokenA, tokenB, keyA;
before(async () => {
  await c.start();
  a = c.createTenant('a.iso.test');
  b = c.createTenant('b.iso.test');
  tokenA = await c.login(a);
  tokenB = await c.login(b);
  const k = await c.api(a.idTag, 'POST', '/api/auth/api-keys', { token: tokenA, body: { name: 'ci' } });
  assert.equal(k.status, 201, k.text);
  keyA = k.json.data.plaintextKey;
  const s = await c.api(b.idTag, 'PUT', '/api/settings/ui.theme', { token: tokenB, body: { value: 'secret-of-b' } });
  assert.equal(s.status, 200, s.text);
});
after(() => c.stop());

// Every authenticated route of this build, with a body where it needs one.
const routes = [
  ['GET', '/api/me/full'], ['PATCH', '/api/me', { name: 'Mallory' }], ['GET', '/api/profiles'],
  ['GET', '/api/profiles/a.iso.test'], ['GET', '/api/settings'], ['GET', '/api/settings?prefix=ui'],
  ['GET', '/api/settings/ui.theme'], ['PUT', '/api/settings/ui.theme', { value: 'x' }],
  ['DELETE', '/api/settings/ui.theme?level=tenant'], ['GET', '/api/auth/api-keys'],
  ['POST', '/api/auth/api-keys', {}], ['GET', '/api/auth/api-keys/1'], ['PATCH', '/api/auth/api-keys/1', { name: 'x' }],
  ['DELETE', '/api/auth/api-keys/1'], ['POST', '/api/auth/logout', {}],
  ['POST', '/api/auth/password', { currentPassword: 'password123', newPassword: 'hijacked-pw' }],
  ['GET', '/api/auth/access-token'], ['GET', '/api/auth/login-token'], ['POST', '/api/auth/login-init', {}],
  ['GET', '/api/refs'], ['POST', '/api/refs', { type: 'share.file', resourceId: 'f1~x' }],
  ['PATCH', '/api/refs/abc', { count: 2 }], ['DELETE', '/api/refs/abc'],
];

test("tenant A's session token is refused on every route of tenant B", async () => {
  for (const [method, path, body] of routes) {
    const r = await c.api(b.idTag, method, path, { token: tokenA, body });
    if (path === '/api/me/full' || path === '/api/auth/login-token' || path === '/api/auth/login-init') {
      // Optional-auth routes degrade to a guest (PROTOCOL E18): B's public view only.
      assert.equal(r.status, 200, `${method} ${path}`);
      assert.ok(!JSON.stringify(r.json).includes('a.iso.test') || path === '/api/me/full' && r.json.data.idTag !== 'a.iso.test');
      if (path !== '/api/me/full') assert.ok(r.json.data === null || r.json.data.status === 'unauthenticated', path);
    } else if (path === '/api/auth/access-token') {
      assert.equal(r.status, 401, `${method} ${path}`);
    } else {
      assert.equal(r.status, 401, `${method} ${path}: ${r.text}`);
      assert.equal(r.json.error.code, 'E-AUTH-UNAUTH');
    }
  }
});

test("tenant A's API key is refused on every route of tenant B", async () => {
  for (const [method, path, body] of routes) {
    const r = await c.api(b.idTag, method, path, { token: keyA, body });
    if (['/api/me/full', '/api/auth/login-token', '/api/auth/login-init'].includes(path)) {
      assert.equal(r.status, 200, path);
    } else if (path === '/api/auth/access-token') {
      assert.equal(r.status, 401, path);
    } else {
      assert.equal(r.status, 403, `${method} ${path}: ${r.text}`);
      assert.equal(r.json.error.code, 'E-AUTH-NOPERM');
    }
  }
  const exchange = await c.api(b.idTag, 'GET', `/api/auth/access-token?apiKey=${keyA}`);
  assert.equal(exchange.status, 403);
});

test("B's data is unchanged and unseen after A's attempts", async () => {
  const s = await c.api(b.idTag, 'GET', '/api/settings/ui.theme', { token: tokenB });
  assert.equal(s.json.data.value, 'secret-of-b');
  const me = await c.api(b.idTag, 'GET', '/api/me');
  assert.equal(me.json.data.name, 'Name b.iso.test');
  const again = await c.login(b);  // B's password was not changed
  assert.ok(again);
  const settingsA = await c.api(a.idTag, 'GET', '/api/settings/ui.theme', { token: tokenA });
  assert.equal(settingsA.status, 404);
});

test('a spoofed Host or forwarded header cannot move a token to another tenant', async () => {
  for (const host of ['cl-o.b.iso.test', 'CL-O.B.ISO.TEST', 'cl-o.b.iso.test.', 'cl-o.b.iso.test:443']) {
    const r = await c.api(b.idTag, 'GET', '/api/settings', { token: tokenA, host });
    assert.equal(r.status, 401, host);
  }
  const r = await c.api(b.idTag, 'GET', '/api/settings', {
    token: tokenA, host: 'cl-o.b.iso.test', headers: { 'X-Forwarded-Host': 'cl-o.a.iso.test', Forwarded: 'host=cl-o.a.iso.test' },
  });
  assert.equal(r.status, 401);
});

test('login through B with A\'s credentials fails like a wrong password (§13.11)', async () => {
  const r = await c.api(b.idTag, 'POST', '/api/auth/login', { body: { idTag: a.idTag, password: a.password } });
  assert.equal(r.status, 403);
  assert.equal(r.json.error.code, 'E-AUTH-NOPERM');
});

test('an unknown or suspended tenant gets 403, and coming back works', async () => {
  const unknown = await c.api('nobody.iso.test', 'GET', '/api/me');
  assert.equal(unknown.status, 403);
  assert.equal(unknown.json.error.code, 'E-AUTH-NOPERM');
  c.admin('tenant', 'suspend', a.idTag);
  let r;
  for (let i = 0; i < 20; i++) {  // invalidation crosses Redis pub/sub
    r = await c.api(a.idTag, 'GET', '/api/me/full', { token: tokenA });
    if (r.status === 403) break;
    await new Promise((res) => setTimeout(res, 50));
  }
  assert.equal(r.status, 403);
  c.admin('tenant', 'activate', a.idTag);
  for (let i = 0; i < 20; i++) {
    r = await c.api(a.idTag, 'GET', '/api/me/full', { token: tokenA });
    if (r.status === 200) break;
    await new Promise((res) => setTimeout(res, 50));
  }
  assert.equal(r.status, 200);
});
