// API keys, password change, logout and token-secret rotation through the gateway.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster, decodeJwt } from './cluster.mjs';

const c = new Cluster();
let alice, token;
before(async () => {
  await c.start();
  alice = c.createTenant('alice.cred.test');
  token = await c.login(alice);
});
after(() => c.stop());

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('API keys: create shows the key once, then it works as bearer and in exchange', async () => {
  const future = Math.floor(Date.now() / 1000) + 86400;
  const created = await c.api(alice.idTag, 'POST', '/api/auth/api-keys', {
    token, body: { name: 'laptop', scopes: 'file:f1~x:R', expiresAt: future },
  });
  assert.equal(created.status, 201, created.text);
  const k = created.json.data;
  assert.deepEqual(Object.keys(k), ['keyId', 'keyPrefix', 'plaintextKey', 'name', 'scopes', 'expiresAt', 'createdAt']);
  assert.match(k.plaintextKey, /^cl_[A-Za-z0-9_-]{43}$/);
  assert.equal(k.plaintextKey.slice(0, k.keyPrefix.length), k.keyPrefix);
  assert.equal(k.expiresAt, future);
  assert.equal(typeof k.createdAt, 'number');

  const list = await c.api(alice.idTag, 'GET', '/api/auth/api-keys', { token });
  assert.equal(list.json.data.length, 1);
  assert.ok(!('plaintextKey' in list.json.data[0]));

  const plain = await c.api(alice.idTag, 'POST', '/api/auth/api-keys', { token, body: { name: 'full' } });
  const key = plain.json.data.plaintextKey;
  const asBearer = await c.api(alice.idTag, 'GET', '/api/settings', { token: key });
  assert.equal(asBearer.status, 200);
  const exchanged = await c.api(alice.idTag, 'GET', `/api/auth/access-token?apiKey=${key}`);
  assert.equal(exchanged.status, 200);
  assert.equal(decodeJwt(exchanged.json.data.token).payload.sub, alice.idTag);
  const scoped = await c.api(alice.idTag, 'GET', `/api/auth/access-token?apiKey=${k.plaintextKey}`);
  assert.equal(decodeJwt(scoped.json.data.token).payload.scope, 'file:f1~x:R');
  // A scoped key reaches only its scope's paths.
  assert.equal((await c.api(alice.idTag, 'GET', '/api/settings', { token: k.plaintextKey })).status, 403);

  const patched = await c.api(alice.idTag, 'PATCH', `/api/auth/api-keys/${plain.json.data.keyId}`, { token, body: { name: null } });
  assert.equal(patched.status, 200);
  assert.ok(!('name' in patched.json.data));

  const del = await c.api(alice.idTag, 'DELETE', `/api/auth/api-keys/${plain.json.data.keyId}`, { token });
  assert.equal(del.status, 200);
  let after;
  for (let i = 0; i < 40; i++) {  // the gateway's key cache is dropped over pub/sub
    after = await c.api(alice.idTag, 'GET', '/api/settings', { token: key });
    if (after.status === 403) break;
    await sleep(50);
  }
  assert.equal(after.status, 403);
  assert.equal((await c.api(alice.idTag, 'GET', `/api/auth/api-keys/${plain.json.data.keyId}`, { token })).status, 404);
  assert.equal((await c.api(alice.idTag, 'GET', '/api/auth/api-keys/abc', { token })).status, 400);
  for (const bad of [{ scopes: 'root' }, { expiresAt: 1 }, { name: 7 }]) {
    assert.equal((await c.api(alice.idTag, 'POST', '/api/auth/api-keys', { token, body: bad })).status, 400, JSON.stringify(bad));
  }
});

test('an API key cannot manage API keys', async () => {
  const k = (await c.api(alice.idTag, 'POST', '/api/auth/api-keys', { token, body: {} })).json.data.plaintextKey;
  const r = await c.api(alice.idTag, 'POST', '/api/auth/api-keys', { token: k, body: {} });
  assert.equal(r.status, 403);
});

test('a token minted from an API key can do no more than the key', async () => {
  const keys = async (t) => (await c.api(alice.idTag, 'GET', '/api/auth/api-keys', { token: t })).status;
  const k = (await c.api(alice.idTag, 'POST', '/api/auth/api-keys', { token, body: { name: 'robot' } })).json.data.plaintextKey;
  // Through ?apiKey=: the token names its key and keeps away from key management.
  const viaQuery = (await c.api(alice.idTag, 'GET', `/api/auth/access-token?apiKey=${k}`)).json.data.token;
  assert.equal(typeof decodeJwt(viaQuery).payload.ak, 'number');
  assert.equal(await keys(viaQuery), 403);
  assert.equal((await c.api(alice.idTag, 'POST', '/api/auth/api-keys', { token: viaQuery, body: {} })).status, 403);
  // Re-minting it keeps the origin too.
  const again = (await c.api(alice.idTag, 'GET', '/api/auth/access-token', { token: viaQuery })).json.data.token;
  assert.equal(decodeJwt(again).payload.ak, decodeJwt(viaQuery).payload.ak);
  assert.equal(await keys(again), 403);
  // Through login-init with the key as bearer: the same.
  const init = await c.api(alice.idTag, 'POST', '/api/auth/login-init', { token: k, body: {} });
  assert.equal(init.json.data.status, 'authenticated');
  const viaInit = init.json.data.login.token;
  assert.equal(typeof decodeJwt(viaInit).payload.ak, 'number');
  assert.equal(await keys(viaInit), 403);
  // A scoped key's token keeps the scope and cannot widen it.
  const scoped = (await c.api(alice.idTag, 'POST', '/api/auth/api-keys', { token, body: { scopes: 'file:f9~x:R' } })).json.data.plaintextKey;
  const wider = await c.api(alice.idTag, 'GET', `/api/auth/access-token?apiKey=${scoped}&scope=file:f8~y:W`);
  assert.equal(wider.status, 403);
  const st = (await c.api(alice.idTag, 'GET', `/api/auth/access-token?apiKey=${scoped}`)).json.data.token;
  assert.equal(decodeJwt(st).payload.scope, 'file:f9~x:R');
  assert.equal((await c.api(alice.idTag, 'GET', '/api/settings', { token: st })).status, 403);
  // The owner's own session still manages keys.
  assert.equal(await keys(token), 200);
});

test('logout deletes the remembered key; the password can be changed', async () => {
  const k = (await c.api(alice.idTag, 'POST', '/api/auth/api-keys', { token, body: {} })).json.data.plaintextKey;
  const out = await c.api(alice.idTag, 'POST', '/api/auth/logout', { token, body: { apiKey: k } });
  assert.equal(out.status, 200);
  assert.equal(out.json.data, null);
  const ex = await c.api(alice.idTag, 'GET', `/api/auth/access-token?apiKey=${k}`);
  assert.equal(ex.status, 403);

  const short = await c.api(alice.idTag, 'POST', '/api/auth/password', { token, body: { currentPassword: alice.password, newPassword: 'short' } });
  assert.equal(short.status, 400);
  const wrong = await c.api(alice.idTag, 'POST', '/api/auth/password', { token, body: { currentPassword: 'nope-nope', newPassword: 'a-new-password' } });
  assert.equal(wrong.status, 403);
  const ok = await c.api(alice.idTag, 'POST', '/api/auth/password', { token, body: { currentPassword: alice.password, newPassword: 'a-new-password' } });
  assert.equal(ok.status, 200);
  const oldLogin = await c.api(alice.idTag, 'POST', '/api/auth/login', { body: { idTag: alice.idTag, password: alice.password } });
  assert.equal(oldLogin.status, 403);
  alice.password = 'a-new-password';
  token = await c.login(alice);
});

test('rotating the token secret keeps old tokens valid and signs new ones with the new kid', async () => {
  const before = decodeJwt(token).header.kid;
  c.admin('secret', 'rotate', alice.idTag);
  assert.equal((await c.api(alice.idTag, 'GET', '/api/settings', { token })).status, 200);
  const fresh = await c.login(alice);
  assert.notEqual(decodeJwt(fresh).header.kid, before);
  assert.equal((await c.api(alice.idTag, 'GET', '/api/settings', { token: fresh })).status, 200);
});

test('profile and settings round trip through the gateway', async () => {
  const p = await c.api(alice.idTag, 'PATCH', '/api/me', { token, body: { name: 'Alice', x: { bio: 'hello' } } });
  assert.equal(p.status, 200);
  assert.ok(!('data' in p.json));
  assert.equal(p.json.profile.name, 'Alice');
  assert.equal(p.json.profile.x.bio, 'hello');
  const me = await c.api(alice.idTag, 'GET', '/api/me');
  assert.equal(me.json.data.name, 'Alice');
  const put = await c.api(alice.idTag, 'PUT', '/api/settings/ui.onboarding', { token, body: { value: null } });
  assert.equal(put.status, 200);
  const del = await c.api(alice.idTag, 'DELETE', '/api/settings/ui.onboarding?level=tenant', { token });
  assert.equal(del.status, 204);
  assert.equal(del.text, '');
  const idp = await c.api(alice.idTag, 'GET', '/api/settings/idp.enabled', { token });
  assert.equal(idp.json.data.value, false);
  const profiles = await c.api(alice.idTag, 'GET', '/api/profiles?type=person&connected=true', { token });
  assert.deepEqual(profiles.json.data, []);
  const one = await c.api(alice.idTag, 'GET', '/api/profiles/bob.example.com', { token });
  assert.equal(one.status, 200);
  assert.equal(one.json.data, null);
  const domain = await c.api(alice.idTag, 'GET', '/api/me/app-domain');
  assert.deepEqual(domain.json.data, { appDomain: alice.idTag });
});
