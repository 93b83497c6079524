// QR login (PROTOCOL §3.7) end to end: a waiting device long-polls its session while a
// logged-in session of the same tenant approves it; the poll returns the login at once,
// once. Expiry, wrong secrets, replays, denial and other tenants are refused, and held
// polls occupy no gateway thread.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { Cluster, freePort, request } from './cluster.mjs';

const c = new Cluster();
let alice, bob, aliceToken, bobToken;
before(async () => {
  await c.start();
  alice = c.createTenant('alice.qr.test');
  bob = c.createTenant('bob.qr.test');
  aliceToken = await c.login(alice);
  bobToken = await c.login(bob);
});
after(() => c.stop());

// `ip`: a client address of its own, for tests that open many sessions (the auth
// bucket allows 10 at once per address and 30 per network).
async function init(tenant = alice, ip) {
  const headers = { 'User-Agent': 'QR-Test/1.0', ...(ip ? { 'X-Forwarded-For': ip } : {}) };
  const r = await c.api(tenant.idTag, 'POST', '/api/auth/qr-login/init', { headers });
  assert.equal(r.status, 201, r.text);
  assert.match(r.json.data.sessionId, /^[A-Za-z0-9_-]{22}$/);
  assert.match(r.json.data.secret, /^[A-Za-z0-9_-]{43}$/);
  return { ...r.json.data, ip };
}
// `secret: null` sends none.
const poll = (s, { secret = s.secret, timeout = 20, tenant = alice } = {}) =>
  c.api(tenant.idTag, 'GET', `/api/auth/qr-login/${s.sessionId}/status?timeout=${timeout}`, {
    headers: { ...(secret === null ? {} : { 'X-QR-Secret': secret }), ...(s.ip ? { 'X-Forwarded-For': s.ip } : {}) },
  });
const respond = (s, approved, token = aliceToken, tenant = alice) =>
  c.api(tenant.idTag, 'POST', `/api/auth/qr-login/${s.sessionId}/respond`, { token, body: { approved } });

test('a second session approves and the waiting poll receives its login, once', async () => {
  const s = await init();
  const started = Date.now();
  const waiting = poll(s);
  await new Promise((r) => setTimeout(r, 300));
  const details = await c.api(alice.idTag, 'GET', `/api/auth/qr-login/${s.sessionId}/details`, { token: aliceToken });
  assert.equal(details.status, 200);
  assert.equal(details.json.data.userAgent, 'QR-Test/1.0');
  assert.equal(typeof details.json.data.ipAddress, 'string');
  const answer = await respond(s, true);
  assert.equal(answer.status, 200);
  assert.equal(answer.json.data.status, 'approved');
  const r = await waiting;
  assert.equal(r.status, 200);
  assert.ok(Date.now() - started < 10000, 'the poll ended with the approval, not its timeout');
  assert.equal(r.json.data.status, 'approved');
  assert.equal(r.json.data.login.idTag, alice.idTag);
  const me = await c.api(alice.idTag, 'GET', '/api/me/full', { token: r.json.data.login.token });
  assert.equal(me.status, 200);
  assert.equal(me.json.data.idTag, alice.idTag);
  // Replayed: the login was handed out once.
  assert.equal((await poll(s, { timeout: 0 })).status, 404);
  // Answered once.
  assert.equal((await respond(s, true)).status, 404);
});

test('denial, a second answer, wrong secrets and expiry', async () => {
  const s = await init();
  assert.equal((await respond(s, false)).json.data.status, 'denied');
  assert.equal((await respond(s, true)).status, 400);
  const denied = await poll(s, { timeout: 0 });
  assert.equal(denied.json.data.status, 'denied');
  assert.equal(denied.json.data.login, undefined);

  const t = await init();
  assert.equal((await poll(t, { secret: 'x'.repeat(43) })).status, 404);
  const missing = await poll(t, { secret: null });
  assert.equal(missing.status, 401);
  assert.equal(missing.json.error.code, 'E-AUTH-UNAUTH');
  const pending = await poll(t, { timeout: 1 });
  assert.equal(pending.status, 200);
  assert.equal(pending.json.data.status, 'pending');
  assert.equal((await c.api(alice.idTag, 'POST', `/api/auth/qr-login/${t.sessionId}/respond`, { token: aliceToken, body: { approved: 'yes' } })).status, 400);

  execFileSync('redis-cli', ['-p', c.env.CLOUDILLO_REDIS_ADDR.split(':')[1], 'PEXPIRE', `qr:${alice.tnId}:${t.sessionId}`, '1']);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal((await poll(t, { timeout: 0 })).status, 404);
  assert.equal((await respond(t, true)).status, 404);
});

test('another tenant can neither see nor answer the session', async () => {
  const s = await init();
  // Bob's session is no session on alice's host: 401 when his token's kid names one of
  // alice's secrets (a bad signature), 403 when it names none.
  const foreign = await respond(s, true, bobToken);
  assert.ok([401, 403].includes(foreign.status), `status ${foreign.status}`);
  // On his own host the session does not exist.
  assert.equal((await respond(s, true, bobToken, bob)).status, 404);
  assert.equal((await c.api(bob.idTag, 'GET', `/api/auth/qr-login/${s.sessionId}/details`, { token: bobToken })).status, 404);
  assert.equal((await poll(s, { tenant: bob, timeout: 0 })).status, 404);
  assert.equal((await c.api(alice.idTag, 'GET', `/api/auth/qr-login/${s.sessionId}/details`)).status, 403);  // no session at all
});

test('held polls hold no thread: other requests pass while 40 wait', async () => {
  const sessions = await Promise.all(Array.from({ length: 40 }, (_, i) => init(alice, `10.77.${i}.1`)));
  const endedAt = [];
  const held = sessions.map((s) => poll(s, { timeout: 3 }).then((r) => { endedAt.push(Date.now()); return r; }));
  await new Promise((r) => setTimeout(r, 300));
  const me = await c.api(alice.idTag, 'GET', '/api/me/full', { token: aliceToken });
  const answeredAt = Date.now();
  assert.equal(me.status, 200);
  const done = await Promise.all(held);
  for (const r of done) assert.equal(r.json.data.status, 'pending');
  // Had the polls held the gateway's threads, this answer would have come after them.
  assert.ok(endedAt.every((t) => t > answeredAt), 'answered while every poll was still held');
});

test('a poll held by one gateway replica wakes when another carries the approval', async () => {
  const port = await freePort();
  const ops = await freePort();
  const bin = path.join(process.env.CLOUDILLO_BUILD_DIR || 'build', 'services/gateway/cloudillo-gateway');
  const second = spawn(bin, [`--ops-addr=127.0.0.1:${ops}`], {
    env: { ...c.envFor('gateway'), CLOUDILLO_HTTP_PORT: String(port) }, stdio: 'ignore' });
  try {
    let ready = false;
    for (let i = 0; i < 100 && !ready; i++) {
      ready = (await request(ops, 'localhost', 'GET', '/readyz').catch(() => ({}))).status === 200;
      if (!ready) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(ready, 'second gateway ready');
    const s = await init();
    const started = Date.now();
    const waiting = request(port, `cl-o.${alice.idTag}`, 'GET', `/api/auth/qr-login/${s.sessionId}/status?timeout=25`,
      { headers: { 'X-QR-Secret': s.secret, 'X-Forwarded-For': c.clientIp } });
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await respond(s, true)).status, 200);  // through the first gateway
    const r = await waiting;
    assert.equal(r.json.data.status, 'approved');
    assert.ok(Date.now() - started < 10000, 'woken by the approval, not by its timeout');
  } finally {
    second.kill('SIGTERM');
  }
});
