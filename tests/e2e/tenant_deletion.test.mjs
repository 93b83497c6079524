// Provider admin: deletion with a grace period (the tenant stops serving at once,
// `tenant purge` deletes it once the period is over, `tenant activate` cancels) and
// paged tenant lists (issue 13, item 4).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster } from './cluster.mjs';

const c = new Cluster();
before(() => c.start());
after(() => c.stop());

const tenants = () => c.admin('tenant', 'list').trim().split('\n').filter(Boolean).map((l) => l.split('\t'));
const statusOf = (idTag) => tenants().find((t) => t[1] === idTag)?.[3];

test('a scheduled deletion stops the tenant at once; purge deletes it when the grace period is over', async () => {
  const now = c.createTenant('now.deletion.test');
  const later = c.createTenant('later.deletion.test');
  await c.login(now);
  assert.equal((await c.api(now.idTag, 'GET', '/api/me')).status, 200);

  assert.match(c.admin('tenant', 'schedule-delete', now.idTag, '--grace-days=0'), /^now\.deletion\.test\tdeleting after \d{4}-\d\d-\d\dT/);
  assert.match(c.admin('tenant', 'schedule-delete', later.idTag, '--grace-days=30'), /deleting after/);
  assert.equal(statusOf(now.idTag), 'deleting');
  // No longer served (the gateway serves active tenants only; the change is published).
  let me;
  for (let i = 0; i < 50; i++) {
    me = await c.api(now.idTag, 'GET', '/api/me');
    if (me.status !== 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.notEqual(me.status, 200);

  assert.equal(c.admin('tenant', 'purge').trim(), 'deleted\tnow.deletion.test');
  assert.equal(statusOf(now.idTag), undefined);
  assert.equal(statusOf(later.idTag), 'deleting', 'still within its grace period');
  assert.equal(c.admin('tenant', 'purge').trim(), '', 'nothing else is due');

  // Activating cancels the deletion: a later purge leaves it alone.
  c.admin('tenant', 'activate', later.idTag);
  assert.equal(statusOf(later.idTag), 'active');
  assert.equal(c.admin('tenant', 'purge').trim(), '');
  assert.equal(await c.login(later).then(() => 'ok'), 'ok');
  assert.throws(() => c.admin('tenant', 'schedule-delete', later.idTag, '--grace-days=-1'));
});

test('tenant list pages through every tenant; --limit and --after give one page', () => {
  for (let i = 0; i < 5; i++) c.createTenant(`page${i}.list.test`);
  const all = tenants().map((t) => t[1]).filter((t) => t.endsWith('.list.test'));
  assert.deepEqual(all, ['page0.list.test', 'page1.list.test', 'page2.list.test', 'page3.list.test', 'page4.list.test']);
  const page = c.admin('tenant', 'list', '--limit=2', '--after=page1.list.test').trim().split('\n').map((l) => l.split('\t')[1]);
  assert.deepEqual(page, ['page2.list.test', 'page3.list.test']);
});
