// Secrets and passwords: never taken from a command line; the master key rotates
// without losing a tenant's keys, secrets or API keys; password hashing is bounded by
// a memory budget, and a failed login's delay holds no thread.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Cluster, decodeJwt } from './cluster.mjs';

const build = process.env.CLOUDILLO_BUILD_DIR || path.resolve(new URL('../../build', import.meta.url).pathname);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('secrets given on a command line are refused, naming the safe alternatives', () => {
  for (const [flag, variable] of [['--master-key=abc', 'CLOUDILLO_MASTER_KEY'], ['--admin-token=abc', 'CLOUDILLO_ADMIN_TOKEN'],
    ['--database-url=postgresql://u:p@h/db', 'CLOUDILLO_DATABASE_URL']]) {
    const r = spawnSync(path.join(build, 'services/identity/cloudillo-identity'), [flag], { env: { PATH: process.env.PATH }, encoding: 'utf8' });
    assert.equal(r.status, 2, flag);
    assert.match(r.stderr, new RegExp(`${variable} is a secret`), flag);
    assert.match(r.stderr, new RegExp(`${variable}_FILE`));
    assert.doesNotMatch(r.stderr, /u:p@h|=abc/);
  }
  const cli = spawnSync(path.join(build, 'tools/admin-cli/cloudillo-admin'), ['--token=abc', 'tenant', 'list'], { env: { PATH: process.env.PATH }, encoding: 'utf8' });
  assert.equal(cli.status, 2);
  assert.match(cli.stderr, /--token is not accepted/);
  const pw = spawnSync(path.join(build, 'tools/admin-cli/cloudillo-admin'), ['tenant', 'create', 'x.test', '--password=hunter22'], { env: { PATH: process.env.PATH }, encoding: 'utf8' });
  assert.equal(pw.status, 2);
  assert.match(pw.stderr, /--password is not accepted/);
});

test('the master key rotates: a new version, resealing, then the old one dropped', async () => {
  const c = new Cluster();
  await c.start();
  try {
    const alice = c.createTenant('alice.rotate.test');
    const token = await c.login(alice);
    const key = (await c.api(alice.idTag, 'POST', '/api/auth/api-keys', { token, body: {} })).json.data.plaintextKey;
    const me = (await c.api(alice.idTag, 'GET', '/api/me')).json.data;
    const old = c.env.CLOUDILLO_MASTER_KEY;
    const fresh = randomBytes(32).toString('base64');

    await c.stopServices();
    c.env.CLOUDILLO_MASTER_KEY = `2:${fresh},${old}`;  // the new version seals; the old still opens
    await c.startServices();
    assert.equal((await c.api(alice.idTag, 'GET', '/api/settings', { token })).status, 200);
    assert.match(c.admin('rotate-master-key'), /^resealed [1-9]\d*, still under an older key 0/);

    await c.stopServices();
    c.env.CLOUDILLO_MASTER_KEY = `2:${fresh}`;  // the old key is gone for good
    await c.startServices();
    assert.deepEqual((await c.api(alice.idTag, 'GET', '/api/me')).json.data, me);  // signing keys opened
    assert.equal((await c.api(alice.idTag, 'GET', '/api/settings', { token })).status, 200);  // token secret opened
    assert.equal((await c.api(alice.idTag, 'GET', '/api/settings', { token: key })).status, 200);  // API key hash key opened
    const again = await c.login(alice);
    assert.equal(decodeJwt(again).payload.iss, alice.idTag);
    const rotated = c.admin('key', 'rotate', alice.idTag);  // a new signing key seals under version 2
    assert.match(rotated, /^\d{6}b\t/);
  } finally {
    await c.stop();
  }
});

test('password hashing beyond the memory budget answers 503 at once; other requests flow', async () => {
  const c = new Cluster({
    CLOUDILLO_PASSWORD_HASH_MEMORY_MB: '19',  // one Argon2id at a time, two waiting
    CLOUDILLO_LOGIN_FAILURE_DELAY_MS: '1500',
    CLOUDILLO_HTTP_THREADS: '1',
    CLOUDILLO_RATE_AUTH: '1000/1000,100000/100000,1000/1000,100000/100000',
  });
  await c.start();
  try {
    const alice = c.createTenant('alice.hash.test');
    const t0 = Date.now();
    const logins = Array.from({ length: 20 }, (_, i) => c.api(alice.idTag, 'POST', '/api/auth/login', {
      body: { idTag: alice.idTag, password: `wrong-${i}` }, headers: { 'X-Forwarded-For': `198.51.100.${i + 1}` },
    }));
    await sleep(100);
    // Twenty logins are being hashed or delayed; one I/O thread still answers at once.
    const fast = Date.now();
    assert.equal((await c.api(alice.idTag, 'GET', '/api/me')).status, 200);
    assert.ok(Date.now() - fast < 300, `a plain request took ${Date.now() - fast} ms beside the logins`);
    const answers = await Promise.all(logins);
    const statuses = answers.map((r) => r.status);
    assert.ok(statuses.includes(503), `no 503 in ${statuses}`);
    assert.ok(statuses.includes(403), `no 403 in ${statuses}`);
    for (const r of answers.filter((a) => a.status === 503)) assert.equal(r.json.error.code, 'E-SYS-UNAVAIL');
    // The refused ones came back at once, the checked ones after the failure delay.
    assert.ok(Date.now() - t0 >= 1500);
    await sleep(200);
    assert.ok(await c.login(alice));
  } finally {
    await c.stop();
  }
});
