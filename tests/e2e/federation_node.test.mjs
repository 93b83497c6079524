// Cross-implementation proof and delivery guarantees against a small Node node built on
// the `jose` library (tests/e2e/test_node.mjs), mapped into the cluster with
// CLOUDILLO_FEDERATION_MAP (PROTOCOL §13.10):
//   - a token jose signs with a key the node publishes is accepted by our inbox;
//   - tokens we sign verify with jose against the key our /api/me publishes;
//   - a node that is down during delivery gets the action exactly once when it is back;
//   - the action service killed (SIGKILL) mid-delivery loses nothing: the delivery is
//     retried after its lease and the receiver holds the action once;
//   - a token delivered twice is stored once (E22);
//   - a tenant setting changed through the API is seen by the next token at once,
//     although the action service caches settings (identity's invalidation message).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { importSPKI, compactVerify } from 'jose';
import { Cluster, freePort } from './cluster.mjs';
import { TestNode, actionIdOf } from './test_node.mjs';

let A, alice, aliceToken, peer;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function eventually(what, fn, ms = 30000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await fn();
    if (v) return v;
    await sleep(100);
  }
  assert.fail(`timed out waiting for ${what}`);
}

function sql(query) {
  return execFileSync('psql', ['-tA', A.env.CLOUDILLO_DATABASE_URL, '-c', query], { encoding: 'utf8' }).trim();
}

async function post(content) {
  const r = await A.api(alice.idTag, 'POST', '/api/actions', { token: aliceToken, body: { type: 'POST', content } });
  assert.equal(r.status, 201, r.text);
  return r.json.data.actionId;
}

before(async () => {
  const nodePort = await freePort();
  peer = await new TestNode('peer.test', nodePort).init();
  await peer.start();
  A = new Cluster({ CLOUDILLO_FEDERATION_MAP: `cl-o.peer.test=http://127.0.0.1:${nodePort}`, CLOUDILLO_OUTBOX_LEASE_SECONDS: '3' });
  await A.start();
  alice = A.createTenant('amy.test');
  aliceToken = await A.login(alice);
});

after(async () => {
  await peer.stop();
  await A.stop();
});

test('a FLLW signed by jose is accepted: the node becomes alice\'s follower', async () => {
  const token = await peer.sign({ t: 'FLLW', aud: 'amy.test', iat: Math.floor(Date.now() / 1000) });
  const r = await A.api(alice.idTag, 'POST', '/api/inbox', { body: { token } });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.data, null);
  await eventually('follower flag', async () => {
    const p = await A.api(alice.idTag, 'GET', '/api/profiles/peer.test', { token: aliceToken });
    return p.status === 200 && p.json.data && p.json.data.follower === true;
  });
  const listed = await A.api(alice.idTag, 'GET', '/api/actions?type=FLLW', { token: aliceToken });
  assert.equal(listed.json.data[0].actionId, actionIdOf(token));
});

// E1 step 3, E4: a connection request from a network that must prove work is refused
// with 428 before anything is queued; other tokens from it, and a request that did the
// work, are not held up.
test('a connection request without the required proof of work gets 428 (E4)', async () => {
  const net = A.clientIp.split('.').slice(0, 3).join('.');
  const redis = (...args) => execFileSync('redis-cli', ['-p', A.env.CLOUDILLO_REDIS_ADDR.split(':')[1], ...args], { encoding: 'utf8' });
  redis('SET', `pow:v4:${net}`, '2', 'EX', '60');
  try {
    const conn = await peer.sign({ t: 'CONN', aud: 'amy.test', c: `pow ${Date.now()}`, iat: Math.floor(Date.now() / 1000) });
    assert.ok(!conn.endsWith('AA'));
    const r = await A.api(alice.idTag, 'POST', '/api/inbox', { body: { token: conn } });
    assert.equal(r.status, 428, r.text);
    assert.equal(r.json.error.code, 'E-POW-REQUIRED');
    const fllw = await peer.sign({ t: 'FLLW', aud: 'amy.test', c: `no pow ${Date.now()}`, iat: Math.floor(Date.now() / 1000) });
    assert.equal((await A.api(alice.idTag, 'POST', '/api/inbox', { body: { token: fllw } })).status, 201);
    // Queued after the refused one: once it is stored, the refused one would have been.
    await eventually('FLLW stored', async () => sql(`SELECT count(*) FROM action.actions WHERE action_id = '${actionIdOf(fllw)}'`) === '1');
    assert.equal(sql(`SELECT count(*) FROM action.actions WHERE action_id = '${actionIdOf(conn)}'`), '0');
  } finally {
    redis('DEL', `pow:v4:${net}`);
  }
});

test('alice\'s post reaches the node and verifies with jose against her published key', async () => {
  const id = await post('for my followers');
  const got = await eventually('delivery', async () => peer.received.find((x) => x.actionId === id));
  const me = await A.api(alice.idTag, 'GET', '/api/me');
  const key = me.json.data.keys[me.json.data.keys.length - 1];
  const spki = await importSPKI(`-----BEGIN PUBLIC KEY-----\n${key.publicKey}\n-----END PUBLIC KEY-----`, 'ES384');
  const { payload, protectedHeader } = await compactVerify(got.token, spki);
  assert.deepEqual(protectedHeader, { typ: 'JWT', alg: 'ES384' });
  const claims = JSON.parse(new TextDecoder().decode(payload));
  assert.deepEqual(Object.keys(claims), ['iss', 'k', 't', 'c', 'iat', 'v']);
  assert.equal(claims.iss, 'amy.test');
  assert.equal(claims.k, key.keyId);
  assert.equal(claims.c, 'for my followers');
});

test('a node that is down during delivery gets the action exactly once when it is back', async () => {
  await peer.stop();
  const id = await post('while you were away');
  await eventually('a failed attempt', async () =>
    Number(sql(`SELECT attempts FROM action.deliveries d JOIN action.actions a USING (tn_id, a_id) WHERE a.action_id = '${id}'`)) >= 1);
  assert.equal(peer.received.filter((x) => x.actionId === id).length, 0);
  await peer.start();
  // The first retry comes 10 s after the first failure (PROTOCOL §2.9).
  await eventually('redelivery', async () => peer.received.some((x) => x.actionId === id), 40000);
  await sleep(2000);
  assert.equal(peer.received.filter((x) => x.actionId === id).length, 1);
  assert.equal(sql(`SELECT state FROM action.deliveries d JOIN action.actions a USING (tn_id, a_id) WHERE a.action_id = '${id}'`), 'D');
});

test('the action service killed mid-delivery loses nothing and delivers once', async () => {
  peer.hold = true;
  peer.heldTokens = 0;
  const id = await post('in flight when the service dies');
  await eventually('request in flight', async () => peer.heldTokens >= 1);
  A.procs.action.kill('SIGKILL');
  await eventually('action service gone', async () => A.exitCodes.action !== undefined);
  peer.hold = false;
  for (const res of peer.held.splice(0)) res.destroy();
  A.spawn('action', [`--grpc-listen=127.0.0.1:${A.ports.grpcX}`, `--ops-addr=127.0.0.1:${A.ports.opsX}`]);
  await eventually('delivery after restart', async () => peer.received.some((x) => x.actionId === id), 40000);
  await sleep(2000);
  assert.equal(peer.received.filter((x) => x.actionId === id).length, 1);
  assert.equal(sql(`SELECT count(*) FROM action.actions WHERE action_id = '${id}'`), '1');
});

test('a token delivered twice is stored once and both deliveries get 201 (E22)', async () => {
  const token = await peer.sign({ t: 'FLLW', aud: 'amy.test', c: `twice ${Date.now()}`, iat: Math.floor(Date.now() / 1000) });
  for (let i = 0; i < 2; i++) {
    const r = await A.api(alice.idTag, 'POST', '/api/inbox', { body: { token } });
    assert.equal(r.status, 201, r.text);
  }
  await eventually('stored', async () => sql(`SELECT count(*) FROM action.actions WHERE action_id = '${actionIdOf(token)}'`) === '1');
  await eventually('queue drained', async () => sql('SELECT count(*) FROM action.inbound') === '0');
  assert.equal(sql(`SELECT count(*) FROM action.actions WHERE action_id = '${actionIdOf(token)}'`), '1');
});

// The action service keeps a tenant's settings for a few seconds (tenant_cache.h);
// identity's "settings:<tn_id>" message on the invalidation channel must drop them, so
// a token verified right after the change already sees it (well within the TTL).
test('a setting changed through the API reaches the inbox at once, not after the cache TTL', async () => {
  const stored = async (c) => {
    const token = await peer.sign({ t: 'FLLW', aud: 'amy.test', c, iat: Math.floor(Date.now() / 1000) });
    const r = await A.api(alice.idTag, 'POST', '/api/inbox', { body: { token } });
    assert.equal(r.status, 201, r.text);
    const id = actionIdOf(token);
    return eventually(`${c} stored`, async () => sql(`SELECT visibility FROM action.actions WHERE action_id = '${id}'`));
  };
  // The first token fills the cache with the default visibility (F).
  assert.equal(await stored(`before ${Date.now()}`), 'F');
  const put = await A.api(alice.idTag, 'PUT', '/api/settings/profile.default_visibility', { token: aliceToken, body: { value: 'P' } });
  assert.equal(put.status, 200, put.text);
  const t0 = Date.now();
  assert.equal(await stored(`after ${Date.now()}`), 'P');
  assert.ok(Date.now() - t0 < 4000, 'the change waited for the cache to expire');
  const back = await A.api(alice.idTag, 'DELETE', '/api/settings/profile.default_visibility?level=tenant', { token: aliceToken });
  assert.ok(back.status < 300, back.text);
  assert.equal(await stored(`reset ${Date.now()}`), 'F');
});
