// Share links on folders and the expiry of links (PROTOCOL §8 "Refs", §3.6 `refId=`):
// a `share.file` ref on a folder yields a token scoped to the folder, and that token
// reads the live files below it (at any depth), lists them, and nothing else of the
// tenant; a file moved out or trashed is out of reach; an expired link is refused
// on the guest's lookup and on the exchange, while its owner still sees it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster } from './cluster.mjs';

const c = new Cluster();
let a, b, tokenA, tokenB;
before(async () => {
  await c.start();
  a = c.createTenant('a.folderref.test');
  b = c.createTenant('b.folderref.test');
  tokenA = await c.login(a);
  tokenB = await c.login(b);
});
after(() => c.stop());

const mkFolder = async (tenant, token, name, parentId) => {
  const r = await c.api(tenant.idTag, 'POST', '/api/files', { token, body: { fileTp: 'FLDR', fileName: name, ...(parentId ? { parentId } : {}) } });
  assert.equal(r.status, 201, r.text);
  return r.json.data.fileId;
};
const upload = async (tenant, token, name, text, parentId) => {
  const q = parentId ? `?parentId=${parentId}` : '';
  const r = await c.api(tenant.idTag, 'POST', `/api/files/file/${encodeURIComponent(name)}${q}`,
    { token, raw: Buffer.from(text), headers: { 'Content-Type': 'text/plain' } });
  assert.ok(r.status === 201 || r.status === 200, r.text);
  return r.json.data.fileId;
};
const createRef = (tenant, token, body) => c.api(tenant.idTag, 'POST', '/api/refs', { token, body });
const redeem = (tenant, refId) =>
  c.api(tenant.idTag, 'GET', `/api/auth/access-token?refId=${encodeURIComponent(refId)}`);
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

test('a link to a folder reads and lists the files below it, and nothing else', async () => {
  const docs = await mkFolder(a, tokenA, 'Docs');
  const sub = await mkFolder(a, tokenA, 'Sub', docs);
  const other = await mkFolder(a, tokenA, 'Other');
  const inDocs = await upload(a, tokenA, 'in-docs.txt', 'in the shared folder', docs);
  const deep = await upload(a, tokenA, 'deep.txt', 'two levels down', sub);
  const outside = await upload(a, tokenA, 'outside.txt', 'at the root');
  const elsewhere = await upload(a, tokenA, 'elsewhere.txt', 'in another folder', other);

  const r = await createRef(a, tokenA, { type: 'share.file', resourceId: docs, count: null });
  assert.equal(r.status, 201, r.text);
  const x = await redeem(a, r.json.data.refId);
  assert.equal(x.status, 200, x.text);
  assert.equal(x.json.data.scope, `file:${docs}:R`);
  const guest = x.json.data.token;

  const get = (id, token = guest) => c.api(a.idTag, 'GET', `/api/files/${id}`, { token });
  assert.equal((await get(inDocs)).text, 'in the shared folder');
  assert.equal((await get(deep)).text, 'two levels down');
  assert.equal((await c.api(a.idTag, 'GET', `/api/files/${deep}?token=${guest}`)).status, 200);
  assert.equal((await c.api(a.idTag, 'GET', `/api/files/${inDocs}/descriptor`, { token: guest })).status, 200);
  assert.equal((await get(outside)).status, 403);
  assert.equal((await get(elsewhere)).status, 403);
  // A read link writes nothing below the folder.
  assert.equal((await c.api(a.idTag, 'PATCH', `/api/files/${inDocs}`, { token: guest, body: { fileName: 'x.txt' } })).status, 403);

  // Listing: the folder's contents, never a file outside it.
  let l = await c.api(a.idTag, 'GET', `/api/files?parentId=${docs}`, { token: guest });
  assert.equal(l.status, 200, l.text);
  assert.deepEqual(l.json.data.map((f) => f.fileId).sort(), [inDocs, sub].sort());
  l = await c.api(a.idTag, 'GET', `/api/files?parentId=${sub}`, { token: guest });
  assert.deepEqual(l.json.data.map((f) => f.fileId), [deep]);
  l = await c.api(a.idTag, 'GET', '/api/files?limit=100', { token: guest });
  const seen = l.json.data.map((f) => f.fileId);
  for (const id of [outside, elsewhere, other]) assert.ok(!seen.includes(id), l.text);
  for (const id of [docs, sub, inDocs, deep]) assert.ok(seen.includes(id), l.text);

  // Moved out of the folder, or trashed: out of the link's reach.
  const moved = await c.api(a.idTag, 'PATCH', `/api/files/${deep}`, { token: tokenA, body: { parentId: other } });
  assert.equal(moved.status, 200, moved.text);
  assert.equal((await get(deep)).status, 403);
  assert.equal((await c.api(a.idTag, 'DELETE', `/api/files/${inDocs}`, { token: tokenA })).status, 200);
  assert.equal((await get(inDocs)).status, 403);
});

test('a link to a file is no link to its folder, and a write link to a folder writes below it', async () => {
  const box = await mkFolder(a, tokenA, 'Box');
  const one = await upload(a, tokenA, 'one.txt', 'first in box', box);
  const two = await upload(a, tokenA, 'two.txt', 'second in box', box);
  // A link to one file of the folder reaches neither its sibling nor the folder.
  const single = (await redeem(a, (await createRef(a, tokenA, { type: 'share.file', resourceId: one })).json.data.refId)).json.data.token;
  assert.equal((await c.api(a.idTag, 'GET', `/api/files/${one}`, { token: single })).status, 200);
  assert.equal((await c.api(a.idTag, 'GET', `/api/files/${two}`, { token: single })).status, 403);
  const l = await c.api(a.idTag, 'GET', `/api/files?parentId=${box}`, { token: single });
  assert.deepEqual(l.json.data.map((f) => f.fileId), [one]);

  const w = await redeem(a, (await createRef(a, tokenA, { type: 'share.file', resourceId: box, accessLevel: 'write' })).json.data.refId);
  assert.equal(w.json.data.scope, `file:${box}:W`);
  const renamed = await c.api(a.idTag, 'PATCH', `/api/files/${two}`, { token: w.json.data.token, body: { fileName: 'renamed.txt' } });
  assert.equal(renamed.status, 200, renamed.text);
});

test("tenant isolation: a folder link of A opens nothing on B's host", async () => {
  const shared = await mkFolder(a, tokenA, 'Shared');
  await upload(a, tokenA, 'a-file.txt', 'tenant a', shared);
  const bFolder = await mkFolder(b, tokenB, 'Shared');
  const bFile = await upload(b, tokenB, 'b-file.txt', 'tenant b', bFolder);
  const ref = (await createRef(a, tokenA, { type: 'share.file', resourceId: shared })).json.data;
  const guest = (await redeem(a, ref.refId)).json.data.token;
  // A's token on B's host is no token of B's; A's ref is unknown there.
  assert.ok([401, 403].includes((await c.api(b.idTag, 'GET', `/api/files/${bFile}`, { token: guest })).status));
  assert.equal((await redeem(b, ref.refId)).status, 400);
  assert.equal((await c.api(b.idTag, 'GET', `/api/refs/${ref.refId}`)).status, 404);
  // B's own listing does not grow by A's folder.
  const l = await c.api(b.idTag, 'GET', `/api/files?parentId=${bFolder}`, { token: tokenB });
  assert.deepEqual(l.json.data.map((f) => f.fileId), [bFile]);
});

test('an expired link is refused on the guest lookup and on the exchange; the owner still sees it', async () => {
  const folder = await mkFolder(a, tokenA, 'Soon');
  const file = await upload(a, tokenA, 'soon.txt', 'short-lived', folder);
  const r = await createRef(a, tokenA, { type: 'share.file', resourceId: folder, count: null, expiresAt: Math.floor(Date.now() / 1000) + 2 });
  assert.equal(r.status, 201, r.text);
  const ref = r.json.data;
  assert.match(ref.expiresAt, /Z$/);
  assert.equal((await c.api(a.idTag, 'GET', `/api/refs/${ref.refId}`)).status, 200);
  const x = await redeem(a, ref.refId);
  assert.equal(x.status, 200, x.text);
  assert.equal((await c.api(a.idTag, 'GET', `/api/files/${file}`, { token: x.json.data.token })).status, 200);
  await sleep(3100);
  const g = await c.api(a.idTag, 'GET', `/api/refs/${ref.refId}`);
  assert.equal(g.status, 404, g.text);
  assert.equal((await c.api(a.idTag, 'GET', `/api/refs/${ref.refId}`, { token: x.json.data.token })).status, 404);
  assert.equal((await redeem(a, ref.refId)).status, 400);
  const o = await c.api(a.idTag, 'GET', `/api/refs/${ref.refId}`, { token: tokenA });
  assert.equal(o.status, 200, o.text);
  assert.equal(o.json.data.expiresAt, ref.expiresAt);
});
