// The provider admin API writes one audit line per call, whatever the outcome: method,
// caller identity, target and result; never a secret (issue 13, item 4).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Cluster } from './cluster.mjs';

const c = new Cluster();
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const build = process.env.CLOUDILLO_BUILD_DIR || path.join(root, 'build');
before(() => c.start());
after(() => c.stop());

function auditLines() {
  return readFileSync(path.join(c.logDir, 'identity.log'), 'utf8').split('\n').filter(Boolean)
    .map((l) => JSON.parse(l)).filter((l) => l.msg === 'admin_audit');
}

async function waitFor(pred) {
  for (let i = 0; i < 50; i++) {
    const lines = auditLines();
    if (pred(lines)) return lines;
    await new Promise((r) => setTimeout(r, 100));
  }
  return auditLines();
}

test('every admin call leaves one audit line with method, caller, target and result', async () => {
  c.createTenant('audited.audit.test', 'a-secret-password-123');
  c.admin('tenant', 'list');
  c.admin('tenant', 'suspend', 'audited.audit.test');
  assert.throws(() => c.admin('tenant', 'suspend', 'missing.audit.test'), 'an unknown tenant fails');
  // A caller with the admin certificate but a wrong token is refused, and audited.
  const wrong = spawnSync(path.join(build, 'tools/admin-cli/cloudillo-admin'), [`--addr=127.0.0.1:${c.ports.admin}`, 'tenant', 'list'], {
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH,
      CLOUDILLO_ADMIN_TOKEN: 'not-the-token',
      CLOUDILLO_GRPC_CA: path.join(c.certs, 'ca.crt'),
      CLOUDILLO_GRPC_CERT: path.join(c.certs, 'admin.crt'),
      CLOUDILLO_GRPC_KEY: path.join(c.certs, 'admin.key'),
    },
  });
  assert.notEqual(wrong.status, 0);
  const lines = await waitFor((ls) => ls.length >= 5);
  const calls = lines.map((l) => [l.method, l.target, l.result]);
  assert.deepEqual(calls, [
    ['CreateTenant', 'audited.audit.test', 'OK'],
    ['ListTenants', '', 'OK'],
    ['SetTenantStatus', 'audited.audit.test suspended', 'OK'],
    ['SetTenantStatus', 'missing.audit.test suspended', 'NOT_FOUND'],
    ['ListTenants', '', 'UNAUTHENTICATED'],
  ]);
  for (const l of lines) {
    assert.equal(l.caller, 'admin');
    assert.ok(l.peer, 'the caller\'s address');
    assert.equal(typeof l.ms, 'number');
    assert.equal(l.level, l.result === 'OK' ? 'info' : 'warn');
  }
  const log = readFileSync(path.join(c.logDir, 'identity.log'), 'utf8');
  assert.ok(!log.includes('a-secret-password-123'), 'a password in the log');
  assert.ok(!log.includes(c.adminToken) && !log.includes('not-the-token'), 'a token in the log');
});
