// Cross-node access and history sync across two clusters mapped to each other with
// CLOUDILLO_FEDERATION_MAP (PROTOCOL §2.10, §3.4, §3.5, §13.1, E6–E9): bob's earlier
// posts reach alice when she follows him; alice's node obtains a token bob's node
// accepts; hostile PROXY exchanges get 403 in the envelope; a non-follower's token is
// refused by the outbox; a token for one tenant does not work on another's host.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign as cryptoSign, randomBytes } from 'node:crypto';
import { Cluster, freePort, b64url } from './cluster.mjs';

let A, B, alice, carol, bob, dave, aliceToken, carolToken, bobToken;
let early = [];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function eventually(what, fn, ms = 30000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last;
    await sleep(200);
  }
  assert.fail(`timed out waiting for ${what}`);
}

async function list(cluster, tenant, token, query = '') {
  const r = await cluster.api(tenant.idTag, 'GET', `/api/actions${query}`, { token });
  assert.equal(r.status, 200, r.text);
  return r.json.data;
}

async function post(cluster, tenant, token, content) {
  const r = await cluster.api(tenant.idTag, 'POST', '/api/actions', { token, body: { type: 'POST', content } });
  assert.equal(r.status, 201, r.text);
  return r.json.data.actionId;
}

// Each hostile request from its own documentation address, so the refusals, which
// count against the caller's IP (E6 recommend), never ban the test client.
let ipCounter = 1;
// One /24 per case: a ban covers the network of the penalised address.
const freshIp = () => `198.51.${ipCounter++}.7`;

function jws(header, payload, key) {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  const sig = key ? cryptoSign('sha384', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }) : Buffer.alloc(0);
  return `${input}.${b64url(sig)}`;
}

before(async () => {
  const [portA, portB] = await Promise.all([freePort(), freePort()]);
  const map = `cl-o.alma.test=http://127.0.0.1:${portA},cl-o.cleo.test=http://127.0.0.1:${portA},` +
    `cl-o.bert.test=http://127.0.0.1:${portB},cl-o.dora.test=http://127.0.0.1:${portB}`;
  A = new Cluster({ CLOUDILLO_HTTP_PORT: String(portA), CLOUDILLO_FEDERATION_MAP: map });
  B = new Cluster({ CLOUDILLO_HTTP_PORT: String(portB), CLOUDILLO_FEDERATION_MAP: map });
  await Promise.all([A.start(), B.start()]);
  alice = A.createTenant('alma.test');
  carol = A.createTenant('cleo.test');
  bob = B.createTenant('bert.test');
  dave = B.createTenant('dora.test');
  [aliceToken, carolToken, bobToken] = await Promise.all([A.login(alice), A.login(carol), B.login(bob)]);
});

after(async () => {
  await Promise.all([A && A.stop(), B && B.stop()]);
});

test('posts made before a follow arrive through history sync (E8, E9)', async () => {
  const tag = randomBytes(3).toString('hex');
  for (let i = 0; i < 3; i++) early.push(await post(B, bob, bobToken, `early ${tag} ${i}`));
  // Nobody follows bob yet: nothing reaches alice.
  await sleep(500);
  assert.equal((await list(A, alice, aliceToken, '?type=POST')).length, 0);

  const r = await A.api(alice.idTag, 'POST', '/api/actions', {
    token: aliceToken, body: { type: 'FLLW', audienceTag: 'bert.test' },
  });
  assert.equal(r.status, 201, r.text);

  const got = await eventually('bob\'s earlier posts at alice', async () => {
    const posts = (await list(A, alice, aliceToken, '?type=POST')).filter((p) => p.issuer.idTag === 'bert.test');
    return early.every((id) => posts.some((p) => p.actionId === id)) && posts;
  });
  for (let i = 0; i < 3; i++) {
    assert.equal(got.find((p) => p.actionId === early[i]).content, `early ${tag} ${i}`);
  }
});

test('proxy-token: alice\'s node gets a token bob\'s node accepts (§3.5)', async () => {
  const r = await A.api(alice.idTag, 'GET', '/api/auth/proxy-token?idTag=bert.test', { token: aliceToken });
  assert.equal(r.status, 200, r.text);
  const { token, roles } = r.json.data;
  assert.ok(Array.isArray(roles));
  assert.deepEqual(roles, []);  // E7: following adds no role
  const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
  assert.deepEqual(Object.keys(claims), ['iss', 'sub', 'exp']);
  assert.equal(claims.iss, 'bert.test');
  assert.equal(claims.sub, 'alma.test');

  const outbox = await B.api(bob.idTag, 'GET', '/api/outbox', { token });
  assert.equal(outbox.status, 200, outbox.text);
  assert.ok(outbox.json.data.items.length >= 3);
  for (const item of outbox.json.data.items) assert.equal(typeof item.token, 'string');

  // A second call answers from the cache: the same token.
  const again = await A.api(alice.idTag, 'GET', '/api/auth/proxy-token?idTag=bert.test', { token: aliceToken });
  assert.equal(again.json.data.token, token);

  // Without idTag: a fresh local token with the owner's roles.
  const local = await A.api(alice.idTag, 'GET', '/api/auth/proxy-token', { token: aliceToken });
  assert.equal(local.status, 200, local.text);
  assert.ok(local.json.data.roles.includes('leader'));
  const me = await A.api(alice.idTag, 'GET', '/api/me/full', { token: local.json.data.token });
  assert.equal(me.status, 200);
});

test('the outbox carries a fresh STAT of an own post with counters (E8, E24 item 1)', async () => {
  // bob follows alice back, so her comment passes his gate.
  let r = await B.api(bob.idTag, 'POST', '/api/actions', {
    token: bobToken, body: { type: 'FLLW', audienceTag: 'alma.test' },
  });
  assert.equal(r.status, 201, r.text);
  await sleep(1500);
  r = await A.api(alice.idTag, 'POST', '/api/actions', {
    token: aliceToken, body: { type: 'CMNT', parentId: early[0], audienceTag: 'bert.test', content: 'Late, but nice' },
  });
  assert.equal(r.status, 201, r.text);
  const px = await A.api(alice.idTag, 'GET', '/api/auth/proxy-token?idTag=bert.test', { token: aliceToken });
  assert.equal(px.status, 200, px.text);
  const payload = (t) => JSON.parse(Buffer.from(t.split('.')[1], 'base64url').toString());
  const item = await eventually('a STAT in bob\'s outbox', async () => {
    const o = await B.api(bob.idTag, 'GET', '/api/outbox', { token: px.json.data.token });
    assert.equal(o.status, 200, o.text);
    return o.json.data.items.find((i) => i.related && i.related.some((t) => payload(t).t === 'STAT'));
  });
  const stat = payload(item.related.find((t) => payload(t).t === 'STAT'));
  assert.equal(stat.iss, 'bert.test');
  assert.equal(stat.p, early[0]);
  assert.equal(stat.c.c, 1);
  assert.ok(stat.c.ct > 0);
  assert.ok(!('r' in stat.c) && !('rp' in stat.c), JSON.stringify(stat.c));  // zero counters left out
  assert.ok(!('v' in stat) && !('aud' in stat), JSON.stringify(stat));
  // Posts without counters carry no related tokens.
  const o = await B.api(bob.idTag, 'GET', '/api/outbox', { token: px.json.data.token });
  assert.ok(o.json.data.items.filter((i) => !i.related).length >= 2);
  // Fresh on every call: a new signature (a new id) each time.
  const again = o.json.data.items.find((i) => i.token === item.token);
  assert.notEqual(again.related[0], item.related[0]);
});

test('proxy-token needs the owner and a session (§3.5)', async () => {
  let r = await A.api(alice.idTag, 'GET', '/api/auth/proxy-token?idTag=bert.test');
  assert.ok(r.status === 401 || r.status === 403, r.text);  // the gateway's answer to no bearer
  // carol's token on alice's host is not alice's.
  r = await A.api(alice.idTag, 'GET', '/api/auth/proxy-token?idTag=bert.test', { token: carolToken });
  assert.ok(r.status === 401 || r.status === 403, r.text);
  r = await A.api(alice.idTag, 'GET', '/api/auth/proxy-token?idTag=not_an_id_tag!', { token: aliceToken });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error.code, 'E-VAL-INVALID');
});

test('hostile PROXY exchanges get 403 E-AUTH-NOPERM (§13.1, E6)', async () => {
  const forger = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
  const now = Math.floor(Date.now() / 1000);
  const good = { iss: 'alma.test', k: '000000', t: 'PROXY', aud: 'bert.test', iat: now, exp: now + 60 };
  const es384 = { typ: 'JWT', alg: 'ES384' };
  const me = await A.api(alice.idTag, 'GET', '/api/me');
  const aliceKey = me.json.data.keys[0].keyId;
  const cases = {
    empty: '',
    garbage: 'not-a-token',
    dots: 'a.b.c',
    'wrong t': jws(es384, { ...good, t: 'CONN' }, forger.privateKey),
    'wrong aud': jws(es384, { ...good, aud: 'dora.test' }, forger.privateKey),
    'no exp': jws(es384, { ...good, exp: undefined }, forger.privateKey),
    'exp too far': jws(es384, { ...good, exp: now + 3600 }, forger.privateKey),
    expired: jws(es384, { ...good, iat: now - 600, exp: now - 300 }, forger.privateKey),
    'alg none': jws({ typ: 'JWT', alg: 'none' }, good),
    ES256: jws({ typ: 'JWT', alg: 'ES256' }, good, forger.privateKey),
    // A key id alice does not list (fresh each run: the resolver caches a miss).
    'forged signature': jws(es384, { ...good, k: aliceKey }, forger.privateKey),
    'wrong key': jws(es384, { ...good, k: `9${randomBytes(3).toString('hex')}` }, forger.privateKey),
  };
  for (const [name, token] of Object.entries(cases)) {
    const r = await B.api(bob.idTag, 'GET', `/api/auth/access-token?token=${token}`, { headers: { 'X-Forwarded-For': freshIp() } });
    assert.equal(r.status, 403, `${name}: ${r.status} ${r.text}`);
    assert.equal(r.json.error.code, 'E-AUTH-NOPERM', name);
  }
});

test('a non-follower\'s token is refused by the outbox (E8)', async () => {
  const r = await A.api(carol.idTag, 'GET', '/api/auth/proxy-token?idTag=bert.test', { token: carolToken });
  assert.equal(r.status, 200, r.text);
  const outbox = await B.api(bob.idTag, 'GET', '/api/outbox', { token: r.json.data.token });
  assert.equal(outbox.status, 403, outbox.text);
  assert.equal(outbox.json.error.code, 'E-AUTH-NOPERM');
});

test('a token minted for one tenant does not work on another tenant\'s host', async () => {
  const r = await A.api(alice.idTag, 'GET', '/api/auth/proxy-token?idTag=bert.test', { token: aliceToken });
  assert.equal(r.status, 200, r.text);
  const token = r.json.data.token;
  for (const path of ['/api/outbox', '/api/auth/api-keys']) {
    const other = await B.api(dave.idTag, 'GET', path, { token });
    assert.ok(other.status === 401 || other.status === 403, `${path}: ${other.status} ${other.text}`);
  }
  // And alice's own history at dave is empty: she follows bob, not dave.
  const d = await A.api(alice.idTag, 'GET', '/api/auth/proxy-token?idTag=dora.test', { token: aliceToken });
  assert.equal(d.status, 200, d.text);
  const outbox = await B.api(dave.idTag, 'GET', '/api/outbox', { token: d.json.data.token });
  assert.equal(outbox.status, 403, outbox.text);
  const onBob = await B.api(bob.idTag, 'GET', '/api/outbox', { token: d.json.data.token });
  assert.ok(onBob.status === 401 || onBob.status === 403, onBob.text);
});
