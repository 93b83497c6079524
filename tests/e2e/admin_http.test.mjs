// The admin API's HTTP/JSON mapping (identity's CLOUDILLO_ADMIN_HTTP_ADDR), plans and
// their quotas as the gateway and blob enforce them, and usage per tenant (issue 13,
// item 4): the admin credential on every route, one audit line per request, errors in
// the protocol's envelope, usage numbers that move with activity and stay per tenant.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Cluster, freePort, request } from './cluster.mjs';

let c;
let port;
// Names unique to this run: Redis (limiter cells, usage counters) is shared between runs.
const run = randomBytes(3).toString('hex');
const tag = (name) => `${name}-${run}.adminhttp.test`;

before(async () => {
  port = await freePort();
  c = new Cluster({ CLOUDILLO_ADMIN_HTTP_ADDR: `127.0.0.1:${port}` });
  await c.start();
  // Tenant ids start at 1 in every test database, but usage counters in the shared
  // Redis are keyed by tenant id: start this run's ids somewhere no other run is.
  const start = 1_000_000_000 + Math.floor(Math.random() * 1_000_000_000);
  execFileSync('psql', ['-q', c.env.CLOUDILLO_DATABASE_URL, '-c', `ALTER SEQUENCE identity.tenants_tn_id_seq RESTART WITH ${start}`]);
});
after(() => c.stop());

const admin = (method, urlPath, { body, token, raw, headers = {} } = {}) => {
  const h = { ...headers };
  const t = token === undefined ? c.adminToken : token;
  if (t !== null) h.Authorization = `Bearer ${t}`;
  return request(port, 'localhost', method, urlPath, { body, raw, headers: h });
};

function auditLines() {
  return readFileSync(path.join(c.logDir, 'identity.log'), 'utf8').split('\n').filter(Boolean)
    .map((l) => JSON.parse(l)).filter((l) => l.msg === 'admin_audit' && l.caller === 'http');
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('without the admin credential every route is 401 in the envelope, and audited', async () => {
  const before = auditLines().length;
  const wrong = [null, 'not-the-token', c.adminToken.slice(0, -1), `${c.adminToken}x`, c.adminToken.toUpperCase()];
  for (const token of wrong) {
    for (const [m, p] of [['GET', '/admin/v1/tenants'], ['PUT', '/admin/v1/plans/x'], ['GET', '/nothing/here']]) {
      const r = await admin(m, p, { token, body: m === 'PUT' ? {} : undefined });
      assert.equal(r.status, 401, `${m} ${p} with ${token}`);
      assert.equal(r.json.error.code, 'E-AUTH-UNAUTH');
      assert.equal(r.headers['www-authenticate'], 'Bearer');
    }
  }
  // Another scheme or a token with the right value but the wrong form is refused too.
  for (const auth of [`Basic ${c.adminToken}`, c.adminToken, `Bearer  ${c.adminToken}`]) {
    const r = await request(port, 'localhost', 'GET', '/admin/v1/tenants', { headers: { Authorization: auth } });
    assert.equal(r.status, 401, auth);
  }
  await sleep(100);
  const lines = auditLines().slice(before);
  assert.equal(lines.length, 18);
  for (const l of lines) {
    assert.equal(l.result, 'UNAUTHENTICATED');
    assert.equal(l.level, 'warn');
    assert.equal(l.peer, '127.0.0.1');
  }
  const log = readFileSync(path.join(c.logDir, 'identity.log'), 'utf8');
  assert.ok(!log.includes(c.adminToken.slice(0, -1)), 'a token (or most of it) in the log');
});

test('tenants over HTTP: create, list, suspend, resume, schedule deletion, rotate; errors in the envelope', async () => {
  const id = tag('life');
  let r = await admin('POST', '/admin/v1/tenants', { body: { idTag: id, password: 'password123' } });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.data.idTag, id);
  assert.equal(r.json.data.status, 'active');
  r = await admin('POST', '/admin/v1/tenants', { body: { idTag: id, password: 'password123' } });
  assert.equal(r.status, 409);
  assert.equal(r.json.error.code, 'E-CORE-CONFLICT');
  r = await admin('GET', `/admin/v1/tenants?limit=1000`);
  assert.equal(r.status, 200);
  assert.ok(r.json.data.tenants.some((t) => t.idTag === id));
  r = await admin('POST', `/admin/v1/tenants/${id}/suspend`);
  assert.equal(r.json.data.status, 'suspended');
  assert.equal((await c.api(id, 'GET', '/api/me')).status, 403, 'a suspended tenant is not served');
  r = await admin('POST', `/admin/v1/tenants/${id}/resume`);
  assert.equal(r.json.data.status, 'active');
  r = await admin('POST', `/admin/v1/tenants/${id}/rotate-key`, { body: { retireOldAfterDays: 3 } });
  assert.equal(r.status, 200, r.text);
  assert.ok(r.json.data.keyId);
  r = await admin('POST', `/admin/v1/tenants/${id}/rotate-token-secret`);
  assert.equal(r.status, 200, r.text);
  r = await admin('DELETE', `/admin/v1/tenants/${id}?graceDays=5`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.tenant.status, 'deleting');
  r = await admin('POST', `/admin/v1/tenants/${tag('missing')}/suspend`);
  assert.equal(r.status, 404);
  assert.equal(r.json.error.code, 'E-CORE-NOTFOUND');
  r = await admin('DELETE', `/admin/v1/tenants/${id}`);
  assert.equal(r.status, 200, r.text);
  r = await admin('POST', `/admin/v1/tenants/${id}/resume`);
  assert.equal(r.status, 404, 'deleted at once');
});

test('hostile requests: unknown routes and fields, malformed JSON, bad numbers, oversized bodies', async () => {
  for (const [m, p] of [['GET', '/admin/v1/nothing'], ['PATCH', '/admin/v1/tenants'], ['GET', '/admin/v1/tenants//usage'],
    ['GET', '/admin/v1/tenants/a/b/c/d'], ['GET', '/'], ['POST', '/admin/v1/tenants/x/explode']]) {
    const r = await admin(m, p);
    assert.equal(r.status, 404, `${m} ${p}`);
    assert.equal(r.json.error.code, 'E-CORE-NOTFOUND');
  }
  for (const raw of ['{"idTag":', '[]', '{"idTag": 5}', '{"idTag":"x.adminhttp.test","isAdmin":true}', '\u0000']) {
    const r = await admin('POST', '/admin/v1/tenants', { raw: Buffer.from(raw) });
    assert.equal(r.status, 400, raw);
    assert.equal(r.json.error.code, 'E-VAL-INVALID');
  }
  for (const q of ['days=abc', 'days=-1', 'days=91', 'days=99999999999']) {
    const r = await admin('GET', `/admin/v1/usage?${q}`);
    assert.equal(r.status, 400, q);
  }
  const r = await admin('PUT', '/admin/v1/plans/big', { raw: Buffer.alloc(200 * 1024, 0x20) });
  assert.equal(r.status, 413);
  const bad = await admin('PUT', '/admin/v1/plans/Not%20A%20Name', { body: {} });
  assert.equal(bad.status, 400);
});

test('plans: tenants per plan, the storage quota at upload (507) and the request quota (429)', async () => {
  const small = `small-${run}`;
  const rpm = `rpm-${run}`;
  let r = await admin('PUT', `/admin/v1/plans/${small}`, { body: { storageBytes: '300000', maxTenants: 1 } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.storageBytes, '300000');
  assert.equal(r.json.data.tenants, 0);
  r = await admin('PUT', `/admin/v1/plans/${rpm}`, { body: { requestsPerMinute: 5 } });
  assert.equal(r.status, 200, r.text);

  const s = { idTag: tag('storage'), password: 'password123' };
  r = await admin('POST', '/admin/v1/tenants', { body: { ...s, plan: small } });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.data.plan, small);
  r = await admin('POST', '/admin/v1/tenants', { body: { idTag: tag('second'), password: 'password123', plan: small } });
  assert.equal(r.status, 409, 'the plan takes one tenant');
  assert.match(r.json.error.message, /full/);
  r = await admin('GET', '/admin/v1/plans');
  assert.equal(r.json.data.plans.find((p) => p.name === small).tenants, 1);

  // Storage: a file that fits, then one that would pass the plan's 300000 bytes.
  const token = await c.login(s);
  const up = (name, bytes) => c.api(s.idTag, 'POST', `/api/files/file/${name}`,
    { token, raw: bytes, headers: { 'Content-Type': 'application/octet-stream' } });
  r = await up('fits.bin', randomBytes(200_000));
  assert.equal(r.status, 201, r.text);
  r = await up('over.bin', randomBytes(150_000));
  assert.equal(r.status, 507, r.text);
  assert.equal(r.json.error.code, 'E-SYS-IO');
  assert.equal(r.json.error.details.quota, 300000);
  // A bigger plan lets it in (blob re-reads the plan within 30 s of a change).
  r = await admin('PUT', `/admin/v1/plans/${small}`, { body: { storageBytes: '1000000', maxTenants: 1 } });
  assert.equal(r.status, 200);

  // Requests: 5 a minute for the tenant's authenticated requests, then 429.
  const q = { idTag: tag('requests'), password: 'password123' };
  r = await admin('POST', '/admin/v1/tenants', { body: { ...q, plan: rpm } });
  assert.equal(r.status, 201, r.text);
  const qt = await c.login(q);
  const statuses = [];
  for (let i = 0; i < 8; i++) statuses.push((await c.api(q.idTag, 'GET', '/api/me/full', { token: qt })).status);
  const first429 = statuses.indexOf(429);
  assert.ok(first429 >= 4 && first429 <= 6, `statuses ${statuses}`);
  const limited = await c.api(q.idTag, 'GET', '/api/me/full', { token: qt });
  assert.equal(limited.status, 429);
  assert.equal(limited.json.error.code, 'E-RATE-LIMITED');
  assert.equal(limited.json.error.details.level, 'tenant_quota_minute');
  assert.ok(Number(limited.headers['retry-after']) >= 1);
  // Another tenant is not limited by this tenant's quota.
  assert.notEqual((await c.api(s.idTag, 'GET', '/api/me/full', { token })).status, 429);
  // Off the plan (the gateway's tenant cache is invalidated), the quota is gone.
  r = await admin('PUT', `/admin/v1/tenants/${q.idTag}/plan`, { body: { plan: '' } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.plan, '');
  let ok = false;
  for (let i = 0; i < 30 && !ok; i++) {
    ok = (await c.api(q.idTag, 'GET', '/api/me/full', { token: qt })).status === 200;
    if (!ok) await sleep(100);
  }
  assert.ok(ok, 'the request quota still holds after the tenant left the plan');
  // A plan with tenants cannot go; an empty one can.
  assert.equal((await admin('DELETE', `/admin/v1/plans/${small}`)).status, 409);
  assert.equal((await admin('DELETE', `/admin/v1/plans/${rpm}`)).status, 200);
  assert.equal((await admin('DELETE', `/admin/v1/plans/${rpm}`)).status, 404);
});

test('usage per tenant moves with activity and stays per tenant', { timeout: 60_000 }, async () => {
  const a = { idTag: tag('usage-a'), password: 'password123' };
  const b = { idTag: tag('usage-b'), password: 'password123' };
  for (const t of [a, b]) assert.equal((await admin('POST', '/admin/v1/tenants', { body: t })).status, 201);
  const usage = async (t) => {
    const r = await admin('GET', `/admin/v1/tenants/${t.idTag}/usage?days=2`);
    assert.equal(r.status, 200, r.text);
    return r.json.data;
  };
  const a0 = await usage(a);
  const b0 = await usage(b);
  assert.equal(a0.days.length, 2);
  assert.equal(a0.days[0].day, new Date().toISOString().slice(0, 10));
  assert.equal(a0.storageBytes, '0');
  assert.equal(a0.days[0].requests, '0');

  const token = await c.login(a);
  for (let i = 0; i < 7; i++) assert.equal((await c.api(a.idTag, 'GET', '/api/me/full', { token })).status, 200);
  const up = await c.api(a.idTag, 'POST', '/api/files/file/usage.bin',
    { token, raw: randomBytes(12_345), headers: { 'Content-Type': 'application/octet-stream' } });
  assert.equal(up.status, 201, up.text);

  // The gateway adds its counts every 5 s.
  let a1;
  for (let i = 0; i < 100; i++) {
    a1 = await usage(a);
    if (Number(a1.days[0].requests) >= 8) break;
    await sleep(200);
  }
  assert.ok(Number(a1.days[0].requests) >= 8, `requests ${a1.days[0].requests}`);
  assert.equal(a1.storageBytes, '12345');
  assert.equal(a1.files, '1');
  const b1 = await usage(b);
  assert.deepEqual(b1, b0, 'another tenant\'s usage did not move');

  const list = await admin('GET', '/admin/v1/usage?days=1&limit=500');
  assert.equal(list.status, 200, list.text);
  const row = list.json.data.usage.find((u) => u.idTag === a.idTag);
  assert.equal(row.storageBytes, '12345');
  assert.equal(row.days.length, 1);
  // Usage is never a metric label.
  const m = await request(c.ports.opsG, 'localhost', 'GET', '/metrics');
  assert.ok(!m.text.includes(a.idTag));
});

test('every HTTP call is one audit line with method, target and result', async () => {
  await sleep(100);
  const lines = auditLines();
  const find = (method, result) => lines.find((l) => l.method === method && l.result === result);
  for (const [method, result] of [['CreateTenant', 'OK'], ['CreateTenant', 'ALREADY_EXISTS'], ['ListTenants', 'OK'],
    ['SetTenantStatus', 'OK'], ['SetTenantStatus', 'NOT_FOUND'], ['RotateSigningKey', 'OK'], ['RotateTokenSecret', 'OK'],
    ['ScheduleTenantDeletion', 'OK'], ['DeleteTenant', 'OK'], ['UpsertPlan', 'OK'], ['ListPlans', 'OK'], ['AssignPlan', 'OK'],
    ['DeletePlan', 'FAILED_PRECONDITION'], ['DeletePlan', 'OK'], ['GetTenantUsage', 'OK'], ['ListUsage', 'OK'],
    ['unknown', 'NOT_FOUND'], ['CreateTenant', 'INVALID_ARGUMENT'], ['unknown', 'UNAUTHENTICATED']]) {
    const l = find(method, result);
    assert.ok(l, `no audit line ${method} ${result}`);
    assert.equal(typeof l.ms, 'number');
    assert.equal(l.level, result === 'OK' ? 'info' : 'warn');
  }
  assert.equal(find('SetTenantStatus', 'OK').target, `${tag('life')} suspended`);
  const log = readFileSync(path.join(c.logDir, 'identity.log'), 'utf8');
  assert.ok(!log.includes('password123'), 'a password in the log');
  assert.ok(!log.includes(c.adminToken), 'the token in the log');
});
