// /readyz reports a lost Redis on every process and recovers when it comes back;
// /healthz stays up meanwhile (liveness is not readiness).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { Cluster, freePort, request } from './cluster.mjs';

let c, redis, redisPort;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const startRedis = () => spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });

before(async () => {
  redisPort = await freePort();
  redis = startRedis();
  await sleep(300);
  c = new Cluster({ CLOUDILLO_REDIS_ADDR: `127.0.0.1:${redisPort}` });
  await c.start();
});
after(async () => {
  await c.stop();
  redis.kill();
});

async function statuses(path) {
  const out = [];
  for (const port of [c.ports.opsG, c.ports.opsI, c.ports.opsA]) out.push((await request(port, 'localhost', 'GET', path)).status);
  return out;
}

test('readiness follows Redis', async () => {
  assert.deepEqual(await statuses('/readyz'), [200, 200, 200]);
  redis.kill('SIGKILL');
  await new Promise((r) => redis.once('exit', r));
  let ready;
  for (let i = 0; i < 50; i++) {
    ready = await statuses('/readyz');
    if (ready.every((s) => s === 503)) break;
    await sleep(100);
  }
  assert.deepEqual(ready, [503, 503, 503]);
  assert.deepEqual(await statuses('/healthz'), [200, 200, 200]);
  redis = startRedis();
  for (let i = 0; i < 50; i++) {
    ready = await statuses('/readyz');
    if (ready.every((s) => s === 200)) break;
    await sleep(100);
  }
  assert.deepEqual(ready, [200, 200, 200]);
});
