// The web client's boot and login sequence through the gateway in split mode, with
// the exact response shapes of PROTOCOL Appendix C.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster, decodeJwt } from './cluster.mjs';

const c = new Cluster();
let alice;
before(async () => {
  await c.start();
  alice = c.createTenant('alice.example.test');
});
after(() => c.stop());

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

test('app host answers the id-tag well-known, not enveloped, with a port', async () => {
  const r = await c.api(alice.idTag, 'GET', '/.well-known/cloudillo/id-tag', { host: `${alice.idTag}:8443` });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { idTag: 'alice.example.test' });
  const unknown = await c.api(alice.idTag, 'GET', '/.well-known/cloudillo/id-tag', { host: 'nobody.example.test' });
  assert.equal(unknown.status, 404);
  assert.equal(unknown.json.error.code, 'E-CORE-NOTFOUND');
});

test('login-init without a token offers QR login and a null webAuthn', async () => {
  const r = await c.api(alice.idTag, 'POST', '/api/auth/login-init', { body: {} });
  assert.equal(r.status, 200);
  assert.equal(r.json.data.status, 'unauthenticated');
  assert.match(r.json.data.qrLogin.sessionId, /^[A-Za-z0-9_-]{22}$/);
  assert.match(r.json.data.qrLogin.secret, /^[A-Za-z0-9_-]{43}$/);
  assert.ok('webAuthn' in r.json.data);
  assert.equal(r.json.data.webAuthn, null);
  assert.ok(!('maskedEmail' in r.json.data), 'no email, no hint');
  assert.match(r.json.time, ISO);
  assert.equal(r.json.reqId, r.headers['x-request-id']);
});

test('login-init shows a tenant with an email its masked hint', async () => {
  c.admin('tenant', 'create', 'mailer.example.test', '--email=mary.smith@example.org', '--password-stdin', { stdin: 'password123\n' });
  const r = await c.api('mailer.example.test', 'POST', '/api/auth/login-init', { body: {} });
  assert.equal(r.status, 200);
  assert.equal(r.json.data.maskedEmail, 'm***@e***.org');
  assert.ok(!r.text.includes('mary.smith'));
});

test('login returns the exact login object and a token bound to the tenant', async () => {
  const r = await c.api(alice.idTag, 'POST', '/api/auth/login', {
    body: { idTag: 'Alice.Example.Test', password: alice.password },
  });
  assert.equal(r.status, 200, r.text);
  const d = r.json.data;
  assert.deepEqual(Object.keys(d), ['tnId', 'idTag', 'roles', 'token', 'name', 'profilePic', 'settings']);
  assert.equal(typeof d.tnId, 'number');
  assert.equal(d.tnId, alice.tnId);
  assert.equal(d.idTag, 'alice.example.test');
  assert.deepEqual(d.roles, ['public', 'follower', 'supporter', 'contributor', 'moderator', 'leader']);
  assert.equal(d.name, 'Name alice.example.test');
  assert.equal(d.profilePic, '');
  assert.deepEqual(d.settings, []);
  const { header, payload } = decodeJwt(d.token);
  assert.equal(header.alg, 'HS256');
  assert.equal(payload.iss, 'alice.example.test');
  assert.equal(payload.sub, 'alice.example.test');
  assert.equal(payload.r, 'public,follower,supporter,contributor,moderator,leader');
  const now = Math.floor(Date.now() / 1000);
  assert.ok(payload.exp > now + 3500 && payload.exp <= now + 3601);
});

test('the boot calls after login: me, me/full, access-token, login-init, login-token', async () => {
  const token = await c.login(alice);
  const me = await c.api(alice.idTag, 'GET', '/api/me');
  assert.equal(me.status, 200);
  assert.deepEqual(Object.keys(me.json.data), ['idTag', 'name', 'type', 'keys']);
  assert.equal(me.json.data.keys.length, 1);
  assert.match(me.json.data.keys[0].keyId, /^\d{6}$/);
  assert.equal(me.json.data.keys[0].publicKey.length, 160);
  assert.ok(me.json.data.keys[0].publicKey.startsWith('MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAE'));
  assert.match(me.headers.etag, /^"[A-Za-z0-9_-]{11}"$/);
  assert.equal(me.headers['content-type'], 'application/json');

  const cond = await c.api(alice.idTag, 'GET', '/api/me', { headers: { 'If-None-Match': me.headers.etag } });
  assert.equal(cond.status, 304);
  assert.equal(cond.text, '');
  assert.equal(cond.headers.etag, me.headers.etag);
  const unquoted = await c.api(alice.idTag, 'GET', '/api/me', { headers: { 'If-None-Match': me.headers.etag.slice(1, -1) } });
  assert.equal(unquoted.status, 304);

  const full = await c.api(alice.idTag, 'GET', '/api/me/full', { token });
  assert.equal(full.status, 200);
  assert.equal(full.json.data.idTag, alice.idTag);
  assert.ok(Array.isArray(full.json.data.keys));

  const at = await c.api(alice.idTag, 'GET', '/api/auth/access-token', { token });
  assert.equal(at.status, 200);
  assert.deepEqual(Object.keys(at.json.data), ['token']);
  assert.equal(decodeJwt(at.json.data.token).payload.sub, alice.idTag);

  const scoped = await c.api(alice.idTag, 'GET', '/api/auth/access-token?scope=file:f1~abc:W', { token });
  assert.equal(scoped.status, 200);
  assert.equal(decodeJwt(scoped.json.data.token).payload.scope, 'file:f1~abc:W');
  // A scoped token cannot mint an unscoped one, nor reach other routes.
  const widen = await c.api(alice.idTag, 'GET', '/api/auth/access-token', { token: scoped.json.data.token });
  assert.equal(widen.status, 403);
  const settings = await c.api(alice.idTag, 'GET', '/api/settings', { token: scoped.json.data.token });
  assert.equal(settings.status, 403);

  const init = await c.api(alice.idTag, 'POST', '/api/auth/login-init', { body: {}, token });
  assert.equal(init.status, 200);
  assert.equal(init.json.data.status, 'authenticated');
  assert.equal(init.json.data.login.idTag, alice.idTag);
  assert.equal(typeof init.json.data.login.tnId, 'number');

  const lt = await c.api(alice.idTag, 'GET', '/api/auth/login-token', { token });
  assert.equal(lt.status, 200);
  assert.equal(lt.json.data.idTag, alice.idTag);
  const ltGuest = await c.api(alice.idTag, 'GET', '/api/auth/login-token');
  assert.equal(ltGuest.status, 200);
  assert.equal(ltGuest.json.data, null);

  const noAuth = await c.api(alice.idTag, 'GET', '/api/auth/access-token');
  assert.equal(noAuth.status, 401);
  assert.equal(noAuth.json.error.code, 'E-AUTH-UNAUTH');
});

test('wrong password, another tenant in the body, and unknown fields all get 403', async () => {
  for (const body of [
    { idTag: alice.idTag, password: 'wrong-password' },
    { idTag: 'bob.example.test', password: alice.password },
  ]) {
    const r = await c.api(alice.idTag, 'POST', '/api/auth/login', { body });
    assert.equal(r.status, 403);
    assert.deepEqual(r.json, { error: { code: 'E-AUTH-NOPERM', message: 'You do not have permission to access this resource' } });
    assert.equal(r.headers['cache-control'], 'no-store');
    assert.equal(r.headers.pragma, 'no-cache');
  }
});

test('CORS preflight and actual responses echo the origin with credentials', async () => {
  const origin = `https://${alice.idTag}`;
  const pre = await c.api(alice.idTag, 'OPTIONS', '/api/auth/login', {
    headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization,content-type' },
  });
  assert.equal(pre.status, 200);
  assert.equal(pre.headers['access-control-allow-origin'], origin);
  assert.equal(pre.headers['access-control-allow-credentials'], 'true');
  assert.equal(pre.headers['access-control-allow-methods'], 'POST');
  assert.equal(pre.headers['access-control-allow-headers'], 'authorization,content-type');
  const r = await c.api(alice.idTag, 'GET', '/api/me', { headers: { Origin: origin } });
  assert.equal(r.headers['access-control-allow-origin'], origin);
  assert.equal(r.headers['access-control-allow-credentials'], 'true');
  assert.equal(r.headers['strict-transport-security'], 'max-age=63072000; includeSubDomains');
  assert.equal(r.headers['x-content-type-options'], 'nosniff');
  assert.equal(r.headers['cache-control'], 'no-store, no-cache');
  const unrouted = await c.api(alice.idTag, 'OPTIONS', '/api/nothing', { headers: { Origin: origin, 'Access-Control-Request-Method': 'GET' } });
  assert.equal(unrouted.status, 404);
  assert.equal(unrouted.headers['access-control-allow-origin'], undefined);
});

test('request ids: a clean X-Request-ID is echoed, anything else replaced', async () => {
  const r = await c.api(alice.idTag, 'GET', '/api/me', { headers: { 'X-Request-ID': 'trace-42.a_b' } });
  assert.equal(r.headers['x-request-id'], 'trace-42.a_b');
  assert.equal(r.json.reqId, 'trace-42.a_b');
  const bad = await c.api(alice.idTag, 'GET', '/api/me', { headers: { 'X-Request-ID': 'x'.repeat(65) } });
  assert.match(bad.headers['x-request-id'], /^[A-Za-z0-9]{8}$/);
});
