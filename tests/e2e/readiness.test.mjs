// /readyz says whether a process can serve, not whether a shared dependency is
// degraded: with Redis gone every process stays ready (the degradation shows in the
// body and in cloudillo_dependency_up) and the API keeps answering. A drain turns
// readiness off first and keeps serving for the drain delay, then closes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { Cluster, freePort, request } from './cluster.mjs';

let c, redis, redisPort, alice;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const startRedis = () => spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });

before(async () => {
  redisPort = await freePort();
  redis = startRedis();
  await sleep(300);
  c = new Cluster({ CLOUDILLO_REDIS_ADDR: `127.0.0.1:${redisPort}` });
  await c.start();
  alice = c.createTenant('alice.ready.test');
});
after(async () => {
  await c.stop();
  redis.kill();
});

async function probes(path) {
  const out = [];
  for (const port of [c.ports.opsG, c.ports.opsI, c.ports.opsA]) out.push(await request(port, 'localhost', 'GET', path));
  return out;
}

async function until(check, ms = 10000) {
  for (let waited = 0; waited < ms; waited += 100) {
    if (await check()) return true;
    await sleep(100);
  }
  return false;
}

test('Redis down is reported as degraded while every process stays ready and serves', async () => {
  const token = await c.login(alice);
  assert.equal((await c.api(alice.idTag, 'GET', '/api/me/full', { token })).status, 200);
  redis.kill('SIGKILL');
  await new Promise((r) => redis.once('exit', r));
  assert.ok(await until(async () => (await probes('/readyz')).every((r) => r.text.includes('redis: degraded'))),
    'the degradation never showed');
  const ready = await probes('/readyz');
  assert.deepEqual(ready.map((r) => r.status), [200, 200, 200]);
  assert.deepEqual((await probes('/healthz')).map((r) => r.status), [200, 200, 200]);
  const metrics = await request(c.ports.opsG, 'localhost', 'GET', '/metrics');
  assert.match(metrics.text, /cloudillo_dependency_up\{dependency="redis"\} 0/);
  // The API still answers: limits fail open, tenants and secrets are cached.
  const me = await c.api(alice.idTag, 'GET', '/api/me/full', { token });
  assert.equal(me.status, 200, me.text);
  redis = startRedis();
  assert.ok(await until(async () => (await probes('/readyz')).every((r) => r.text.includes('redis: up'))),
    'Redis never came back in the readiness details');
});

test('SIGTERM turns readiness off, keeps serving for the drain delay, then exits 0', async () => {
  const d = new Cluster({ CLOUDILLO_DRAIN_DELAY_SECONDS: '2', CLOUDILLO_REDIS_ADDR: `127.0.0.1:${redisPort}` });
  await d.start();
  try {
    const bob = d.createTenant('bob.ready.test');
    const gw = d.procs.gateway;
    const exited = new Promise((r) => gw.once('exit', (code) => r(code)));
    const t0 = Date.now();
    gw.kill('SIGTERM');
    assert.ok(await until(async () => (await request(d.ports.opsG, 'localhost', 'GET', '/readyz')).status === 503, 1500),
      'readiness stayed on');
    // Load balancers have not noticed yet: requests still get answers.
    const me = await d.api(bob.idTag, 'GET', '/api/me');
    assert.equal(me.status, 200);
    assert.equal(await exited, 0);
    assert.ok(Date.now() - t0 >= 1900, `exited after ${Date.now() - t0} ms, before the drain delay`);
  } finally {
    await d.stop();
  }
});
