// The all-in-one binary runs the same services on in-process channels: the boot
// sequence and the admin API must behave exactly as in the split deployment.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster, request } from './cluster.mjs';

const c = new Cluster({}, { allInOne: true });
let alice;
before(async () => {
  await c.start();
  alice = c.createTenant('alice.aio.test');
});
after(() => c.stop());

test('login sequence, settings and metrics in one process', async () => {
  const init = await c.api(alice.idTag, 'POST', '/api/auth/login-init', { body: {} });
  assert.equal(init.json.data.status, 'unauthenticated');
  const token = await c.login(alice);
  const full = await c.api(alice.idTag, 'GET', '/api/me/full', { token });
  assert.equal(full.json.data.idTag, alice.idTag);
  const put = await c.api(alice.idTag, 'PUT', '/api/settings/ui.theme', { token, body: { value: 'glass' } });
  assert.equal(put.status, 200);
  const m = await request(c.ports.opsG, 'localhost', 'GET', '/metrics');
  assert.match(m.text, /cloudillo_grpc_server_calls_total\{code="0",method="\/cloudillo\.v1\.AccessEdge\/Login"\} 1/);
  assert.match(m.text, /cloudillo_http_requests_total/);
  const codes = await c.stopServices();
  assert.deepEqual(codes, { allinone: 0 });
});
