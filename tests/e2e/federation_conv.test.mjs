// A group conversation across two clusters (PROTOCOL §2.11 CONV, SUBS, INVT, MSG;
// §2.8 step 6; §2.5 items 4–6): ana on A creates a closed CONV and invites ben on B;
// ben's node learns the CONV from the INVT's related token, ben accepts, his SUBS is
// accepted at ana's, and his MSG comes back to him under ana's vouching APRV.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Cluster, freePort } from './cluster.mjs';

let A, B, ana, ben, anaToken, benToken;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function eventually(what, fn, ms = 15000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const last = await fn();
    if (last) return last;
    await sleep(100);
  }
  assert.fail(`timed out waiting for ${what}`);
}

async function list(cluster, tenant, token, query = '') {
  const r = await cluster.api(tenant.idTag, 'GET', `/api/actions${query}`, { token });
  assert.equal(r.status, 200, r.text);
  return r.json.data;
}

async function create(cluster, tenant, token, body) {
  const r = await cluster.api(tenant.idTag, 'POST', '/api/actions', { token, body });
  assert.equal(r.status, 201, r.text);
  return r.json.data;
}

before(async () => {
  const [portA, portB] = await Promise.all([freePort(), freePort()]);
  const map = `cl-o.ana.test=http://127.0.0.1:${portA},cl-o.ben.test=http://127.0.0.1:${portB}`;
  A = new Cluster({ CLOUDILLO_HTTP_PORT: String(portA), CLOUDILLO_FEDERATION_MAP: map });
  B = new Cluster({ CLOUDILLO_HTTP_PORT: String(portB), CLOUDILLO_FEDERATION_MAP: map });
  await Promise.all([A.start(), B.start()]);
  for (const c of [A, B]) {
    const start = 1_000_000_000 + Math.floor(Math.random() * 1_000_000_000);
    execFileSync('psql', ['-q', c.env.CLOUDILLO_DATABASE_URL, '-c', `ALTER SEQUENCE identity.tenants_tn_id_seq RESTART WITH ${start}`]);
  }
  ana = A.createTenant('ana.test');
  ben = B.createTenant('ben.test');
  [anaToken, benToken] = await Promise.all([A.login(ana), B.login(ben)]);
});

after(async () => {
  await Promise.all([A && A.stop(), B && B.stop()]);
});

test('a closed conversation: invitation, join, and messages relayed by the owner', async () => {
  const conn = await create(A, ana, anaToken, { type: 'CONN', audienceTag: 'ben.test', content: 'hi' });
  await eventually('CONN at ben', async () =>
    (await list(B, ben, benToken, '?type=CONN')).find((a) => a.actionId === conn.actionId));
  let r = await B.api(ben.idTag, 'POST', `/api/actions/${encodeURIComponent(conn.actionId)}/accept`, { token: benToken });
  assert.equal(r.status, 200, r.text);
  await eventually('connected', async () => {
    const p = await A.api(ana.idTag, 'GET', '/api/profiles/ben.test', { token: anaToken });
    return p.status === 200 && p.json.data && p.json.data.connected === true;
  });

  // The CONV is closed by default and its creator is its admin member.
  const conv = await create(A, ana, anaToken, { type: 'CONV', content: { name: 'Team' } });
  assert.equal(conv.flags, 'rco');
  assert.equal(conv.visibility, 'S');
  const own = (await list(A, ana, anaToken, '?type=SUBS')).filter((a) => a.subject === conv.actionId);
  assert.equal(own.length, 1);
  assert.equal(own[0].issuer.idTag, 'ana.test');

  // ben does not hold the CONV, so he cannot write into it yet.
  r = await B.api(ben.idTag, 'POST', '/api/actions', { token: benToken, body: { type: 'MSG', parentId: conv.actionId, content: 'early' } });
  assert.equal(r.status, 404, r.text);

  const invt = await create(A, ana, anaToken, { type: 'INVT', audienceTag: 'ben.test', subject: conv.actionId, content: { role: 'member' } });
  const pending = await eventually('INVT at ben', async () =>
    (await list(B, ben, benToken, '?type=INVT')).find((a) => a.actionId === invt.actionId));
  assert.equal(pending.status, 'C');
  // The CONV came along as the INVT's related token.
  await eventually('CONV at ben', async () =>
    (await list(B, ben, benToken, '?type=CONV')).find((a) => a.actionId === conv.actionId));

  r = await B.api(ben.idTag, 'POST', `/api/actions/${encodeURIComponent(invt.actionId)}/accept`, { token: benToken });
  assert.equal(r.status, 200, r.text);
  const joined = await eventually('ben SUBS at ana', async () =>
    (await list(A, ana, anaToken, '?type=SUBS')).find((a) => a.subject === conv.actionId && a.issuer.idTag === 'ben.test'));
  assert.equal(joined.status, 'A');

  // ben's MSG goes home to ana, who vouches for it with an APRV fanned out to members.
  const msg = await create(B, ben, benToken, { type: 'MSG', parentId: conv.actionId, content: 'hello team' });
  const atAna = await eventually('MSG at ana', async () =>
    (await list(A, ana, anaToken, '?type=MSG')).find((a) => a.actionId === msg.actionId));
  assert.equal(atAna.status, 'A');
  await eventually('vouching APRV at ben', async () =>
    (await list(B, ben, benToken, '?type=APRV')).find((a) => a.subject === msg.actionId && a.issuer.idTag === 'ana.test'));

  // ana's own MSG reaches ben by subscriber fan-out.
  const reply = await create(A, ana, anaToken, { type: 'MSG', parentId: conv.actionId, content: 'welcome' });
  await eventually('MSG at ben', async () =>
    (await list(B, ben, benToken, '?type=MSG')).find((a) => a.actionId === reply.actionId));
});
