// Every running service's /metrics passes `promtool check metrics` (Debian's prometheus
// package; tools/test installs it), and no metric carries a label naming a tenant, a
// user or a remote host: per-tenant usage goes through the admin API (docs/operations.md).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Cluster, request } from './cluster.mjs';

const c = new Cluster();
const forbidden = /^(tenant|tenant_id|tn_id|tnid|id_tag|idtag|host|hostname|remote|remote_host|peer|user|user_id|subject|ip|client_ip|addr)$/i;
let pages;
before(async () => {
  await c.start();
  // Traffic for two tenants first, so every lazily created series exists.
  for (const idTag of ['alpha.metrics.test', 'beta.metrics.test']) {
    const t = c.createTenant(idTag);
    const token = await c.login(t);
    await c.api(idTag, 'GET', '/api/me/full', { token });
    await c.api(idTag, 'POST', '/api/auth/login', { body: { idTag, password: 'wrong-password' } });
  }
  await c.api('nobody.metrics.test', 'GET', '/api/me');
  pages = {};
  // Every ops port the cluster opened (opsG, opsI, opsA, and those of services added later).
  for (const [key, port] of Object.entries(c.ports).filter(([k]) => k.startsWith('ops'))) {
    const name = key.slice(3);
    const r = await request(port, 'localhost', 'GET', '/metrics');
    assert.equal(r.status, 200);
    pages[name] = r.text;
  }
});
after(() => c.stop());

test('every service\'s /metrics passes promtool check metrics', () => {
  assert.ok(Object.keys(pages).length >= 3);
  for (const [name, page] of Object.entries(pages)) {
    const r = spawnSync('promtool', ['check', 'metrics'], { input: page, encoding: 'utf8' });
    assert.equal(r.error, undefined, 'promtool is missing (Debian package prometheus)');
    assert.equal(r.status, 0, `ops${name}: ${r.stdout}${r.stderr}`);
  }
});

test('no metric has a tenant, user or remote-host label, nor a tenant\'s name in a value', () => {
  for (const [name, page] of Object.entries(pages)) {
    const samples = page.split('\n').filter((l) => l && !l.startsWith('#'));
    assert.ok(samples.length > 10, `ops${name}: too few samples`);
    for (const line of samples) {
      const labels = /\{(.*)\}/.exec(line)?.[1] || '';
      for (const m of labels.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
        assert.doesNotMatch(m[1], forbidden, `ops${name}: ${line}`);
        assert.doesNotMatch(m[2], /metrics\.test/, `ops${name}: a tenant's name in a label value: ${line}`);
      }
    }
  }
});
