// Files (PROTOCOL §4, §8 "Files", Appendix C.10, C.11) through the gateway and the
// blob service of a split cluster: ids and descriptors, downloads with ranges and
// caching headers, image variants, file records, tenant isolation, hostile input.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { Cluster } from './cluster.mjs';
import { blobId, fileIdOf, png } from './files_helpers.mjs';

const c = new Cluster();
let a, b, tokenA, tokenB;
before(async () => {
  await c.start();
  a = c.createTenant('a.files.test');
  b = c.createTenant('b.files.test');
  tokenA = await c.login(a);
  tokenB = await c.login(b);
});
after(() => c.stop());

const upload = (tenant, token, preset, name, bytes, contentType = 'application/octet-stream', query = '') =>
  c.api(tenant.idTag, 'POST', `/api/files/${preset}/${encodeURIComponent(name)}${query}`,
    { token, raw: bytes, headers: { 'Content-Type': contentType } });

test('the first screen of an empty tenant: no files, explicit null cursor (C.11)', async () => {
  const r = await c.api(b.idTag, 'GET', '/api/files?limit=30&parentId=__root__', { token: tokenB });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.data, []);
  assert.deepEqual(r.json.cursorPagination, { nextCursor: null, hasMore: false });
  assert.ok(r.json.time && r.json.reqId);
  const tags = await c.api(b.idTag, 'GET', '/api/tags', { token: tokenB });
  assert.equal(tags.status, 200);
  assert.deepEqual(tags.json, { tags: [] });  // bare, not enveloped (C.10)
});

for (const size of [0, 1, 5 * 1024 * 1024]) {
  test(`round trip of ${size} bytes: ids per §4.1, bytes, headers, HEAD, metadata`, async () => {
    const bytes = Buffer.alloc(size);
    for (let i = 0; i < size; i++) bytes[i] = (i * 31 + size) & 0xff;
    const up = await upload(a, tokenA, 'file', `data-${size}.bin`, bytes);
    assert.equal(up.status, 201, up.text);
    const id = up.json.data.fileId;
    const bid = blobId(bytes);
    const desc = await c.api(a.idTag, 'GET', `/api/files/${id}/descriptor`, { token: tokenA });
    assert.equal(desc.status, 200, desc.text);
    assert.equal(desc.json.data, `d2,orig:${bid}:f=bin:s=${size}:r=0x0`);
    assert.equal(id, fileIdOf(desc.json.data));
    for (const p of [`/api/files/${id}`, `/api/files/variant/${bid}`]) {
      const g = await c.api(a.idTag, 'GET', p, { token: tokenA });
      assert.equal(g.status, 200, p);
      assert.ok(g.bytes.equals(bytes), p);
      assert.equal(g.headers['content-length'], String(size));
      assert.equal(g.headers['content-type'], 'application/octet-stream');
      assert.equal(g.headers['content-disposition'], 'attachment');
      assert.equal(g.headers['cache-control'], 'public, max-age=31536000, immutable');
      assert.equal(g.headers.etag, `"${bid}"`);
      assert.equal(g.headers['x-cloudillo-variant'], bid);
      assert.equal(g.headers['x-content-type-options'], 'nosniff');
      assert.equal(g.headers['accept-ranges'], 'bytes');
      const h = await c.api(a.idTag, 'HEAD', p, { token: tokenA });
      assert.equal(h.status, 200);
      assert.equal(h.headers['content-length'], String(size));
      assert.equal(h.bytes.length, 0);
    }
    const meta = await c.api(a.idTag, 'GET', `/api/files/${id}/metadata`, { token: tokenA });
    assert.equal(meta.status, 200);
    assert.equal(meta.json.data.fileId, id);
    assert.equal(meta.json.data.fileName, `data-${size}.bin`);
    assert.equal(meta.json.data.fileTp, 'BLOB');
    assert.equal(meta.json.data.status, 'A');
    assert.match(meta.json.data.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    // The same bytes again: the same file, stored once.
    const again = await upload(a, tokenA, 'file', `data-${size}.bin`, bytes);
    assert.equal(again.status, 200, again.text);
    assert.equal(again.json.data.existed, true);
    assert.equal(again.json.data.fileId, id);
  });
}

test('byte ranges: single ranges 206, unsatisfiable and malformed 416 in the envelope', async () => {
  const bytes = Buffer.from('0123456789abcdefghij');
  const up = await upload(a, tokenA, 'file', 'range.txt', bytes, 'text/plain');
  assert.equal(up.status, 201, up.text);
  const id = up.json.data.fileId;
  const get = (range) => c.api(a.idTag, 'GET', `/api/files/${id}`, { token: tokenA, headers: { Range: range } });
  let r = await get('bytes=2-5');
  assert.equal(r.status, 206);
  assert.equal(r.text, '2345');
  assert.equal(r.headers['content-range'], 'bytes 2-5/20');
  assert.ok(r.headers['x-cloudillo-variants'] === undefined);  // only on ranges from 0
  r = await get('bytes=-3');
  assert.equal(r.text, 'hij');
  r = await get('bytes=0-0');
  assert.equal(r.text, '0');
  assert.ok(r.headers['x-cloudillo-variants'].startsWith('d2,'));
  r = await get('bytes=15-100');
  assert.equal(r.text, 'fghij');
  for (const bad of ['bytes=20-', 'bytes=5-2', 'bytes=x-y', 'bytes=-0', 'bytes=99999999999999999999999-']) {
    r = await get(bad);
    assert.equal(r.status, 416, bad);
    assert.equal(r.json.error.code, 'E-VAL-INVALID', bad);
  }
  r = await get('bytes=0-1,4-5');  // several ranges: the whole body
  assert.equal(r.status, 200);
  assert.equal(r.text, bytes.toString());
  r = await c.api(a.idTag, 'GET', `/api/files/${id}`, { token: tokenA, headers: { Range: 'bytes=2-5', 'If-Range': '"other"' } });
  assert.equal(r.status, 200);  // If-Range does not match: the whole body
});

test('image upload: §4.2 tiers with their sizes and formats, dim and thumbnail id', async () => {
  const img = png(2000, 1000);
  const up = await upload(a, tokenA, 'default', 'wide.png', img, 'image/png');
  assert.equal(up.status, 201, up.text);
  assert.deepEqual(up.json.data.dim, [2000, 1000]);
  const d = (await c.api(a.idTag, 'GET', `/api/files/${up.json.data.fileId}/descriptor`, { token: tokenA })).json.data;
  const variants = Object.fromEntries(d.slice(3).split(';').map((v) => {
    const [name, id, ...props] = v.split(':');
    return [name, { id, ...Object.fromEntries(props.map((p) => p.split('='))) }];
  }));
  assert.deepEqual(Object.keys(variants).sort(), ['orig', 'vis.hd', 'vis.md', 'vis.sd', 'vis.tn']);
  assert.equal(variants['vis.tn'].r, '256x128');
  assert.equal(variants['vis.sd'].r, '720x360');
  assert.equal(variants['vis.md'].r, '1280x640');
  assert.equal(variants['vis.hd'].r, '1920x960');
  assert.equal(variants.orig.r, '2000x1000');
  assert.equal(variants.orig.f, 'png');
  assert.equal(variants.orig.id, blobId(img));
  assert.equal(up.json.data.thumbnailVariantId, variants['vis.tn'].id);
  for (const name of ['vis.tn', 'vis.sd', 'vis.md', 'vis.hd']) {
    assert.equal(variants[name].f, 'webp');
    const g = await c.api(a.idTag, 'GET', `/api/files/variant/${variants[name].id}`, { token: tokenA });
    assert.equal(g.status, 200);
    assert.equal(g.headers['content-type'], 'image/webp');
    assert.equal(g.bytes.subarray(0, 4).toString('latin1'), 'RIFF');
    assert.equal(g.bytes.subarray(8, 12).toString('latin1'), 'WEBP');
    assert.equal(blobId(g.bytes), variants[name].id);  // bytes verified against the id
  }
  const sd = await c.api(a.idTag, 'GET', `/api/files/${up.json.data.fileId}?variant=vis.sd`, { token: tokenA });
  assert.equal(sd.headers['x-cloudillo-variant'], variants['vis.sd'].id);
  const best = await c.api(a.idTag, 'GET', `/api/files/${up.json.data.fileId}`, { token: tokenA });
  assert.equal(best.headers['x-cloudillo-variant'], variants.orig.id);
  // A small image still gets a thumbnail; tiers not below the original are skipped.
  const small = await upload(a, tokenA, 'default', 'small.png', png(100, 50), 'image/png');
  assert.equal(small.status, 201, small.text);
  const sdesc = (await c.api(a.idTag, 'GET', `/api/files/${small.json.data.fileId}/descriptor`, { token: tokenA })).json.data;
  assert.match(sdesc, /vis\.tn:b1~[A-Za-z0-9_-]{43}:f=webp:s=\d+:r=100x50/);
  assert.ok(!sdesc.includes('vis.sd'));
  // Not an image although it says so; and a binary on a preset for media.
  const fake = await upload(a, tokenA, 'default', 'fake.png', Buffer.from('not a png'), 'image/png');
  assert.equal(fake.status, 400);
  assert.equal(fake.json.error.code, 'E-VAL-INVALID');
  const raw = await upload(a, tokenA, 'default', 'x.bin', Buffer.from('x'));
  assert.equal(raw.status, 400);
});

test('downloads carry the API host headers: CORS for the web client, request id', async () => {
  const up = await upload(a, tokenA, 'file', 'cors.txt', Buffer.from('cors'), 'text/plain');
  const origin = `https://${a.idTag}`;
  const g = await c.api(a.idTag, 'GET', `/api/files/${up.json.data.fileId}`, { token: tokenA, headers: { Origin: origin } });
  assert.equal(g.status, 200);
  assert.equal(g.headers['access-control-allow-origin'], origin);
  assert.equal(g.headers['access-control-allow-credentials'], 'true');
  assert.ok(g.headers['x-request-id']);
  assert.equal(g.headers['x-content-type-options'], 'nosniff');
  assert.equal(g.headers['cache-control'], 'public, max-age=31536000, immutable');
});

test('active content is never served inline', async () => {
  const html = await upload(a, tokenA, 'file', 'x.html', Buffer.from('<script>alert(1)</script>'), 'text/html');
  assert.equal(html.status, 201, html.text);
  let g = await c.api(a.idTag, 'GET', `/api/files/${html.json.data.fileId}`, { token: tokenA });
  assert.equal(g.headers['content-type'], 'application/octet-stream');
  assert.equal(g.headers['content-disposition'], 'attachment');
  const svg = await upload(a, tokenA, 'file', 'x.svg', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'), 'image/svg+xml');
  assert.equal(svg.status, 201, svg.text);
  g = await c.api(a.idTag, 'GET', `/api/files/${svg.json.data.fileId}`, { token: tokenA });
  assert.equal(g.headers['content-type'], 'image/svg+xml');
  assert.match(g.headers['content-security-policy'], /script-src 'none'/);
  assert.equal(g.headers['x-content-type-options'], 'nosniff');
});

test('folders, mutable files, rename, move, cycles, trash, restore, tags, flags, pagination', async () => {
  const mk = (body) => c.api(a.idTag, 'POST', '/api/files', { token: tokenA, body });
  const folder = await mk({ fileTp: 'FLDR', fileName: 'Docs' });
  assert.equal(folder.status, 201, folder.text);
  const fid = folder.json.data.fileId;
  assert.match(fid, /^[0-9A-Za-z]{24}$/);
  const sub = (await mk({ fileTp: 'FLDR', fileName: 'Sub', parentId: fid })).json.data.fileId;
  const doc = await mk({ fileTp: 'CRDT', fileName: 'Notes', parentId: fid, tags: ['work'] });
  assert.equal(doc.status, 201, doc.text);
  const did = doc.json.data.fileId;
  assert.equal((await mk({ fileTp: 'BLOB' })).status, 400);
  assert.equal((await mk({ fileTp: 'CRDT', parentId: 'nonexistentnonexistent12' })).status, 404);

  let list = await c.api(a.idTag, 'GET', `/api/files?parentId=${fid}`, { token: tokenA });
  assert.deepEqual(list.json.data.map((f) => f.fileName).sort(), ['Notes', 'Sub']);
  // A folder cannot move into itself or below itself.
  let r = await c.api(a.idTag, 'PATCH', `/api/files/${fid}`, { token: tokenA, body: { parentId: sub } });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, 'E-FILE-CYCLEREJ');
  r = await c.api(a.idTag, 'PATCH', `/api/files/${did}`, { token: tokenA, body: { fileName: 'Renamed', parentId: null, visibility: 'P' } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.fileName, 'Renamed');
  assert.equal(r.json.data.parentId, undefined);
  assert.equal(r.json.data.visibility, 'P');
  list = await c.api(a.idTag, 'GET', '/api/files?parentId=__root__&fileTp=CRDT', { token: tokenA });
  assert.deepEqual(list.json.data.map((f) => f.fileId), [did]);

  r = await c.api(a.idTag, 'PUT', `/api/files/${did}/tag/todo`, { token: tokenA });
  assert.deepEqual(r.json, { tags: ['work', 'todo'] });
  r = await c.api(a.idTag, 'DELETE', `/api/files/${did}/tag/work`, { token: tokenA });
  assert.deepEqual(r.json, { tags: ['todo'] });
  r = await c.api(a.idTag, 'GET', '/api/tags?withCounts=true', { token: tokenA });
  assert.deepEqual(r.json, { tags: [{ tag: 'todo', count: 1 }] });
  assert.equal((await c.api(a.idTag, 'GET', '/api/files?tag=todo', { token: tokenA })).json.data.length, 1);

  r = await c.api(a.idTag, 'PATCH', `/api/files/${did}/user`, { token: tokenA, body: { starred: true } });
  assert.deepEqual(r.json.data, { pinned: false, starred: true });
  list = await c.api(a.idTag, 'GET', '/api/files?starred=true', { token: tokenA });
  assert.deepEqual(list.json.data.map((f) => f.fileId), [did]);
  assert.deepEqual(list.json.data[0].userData, { pinned: false, starred: true });

  r = await c.api(a.idTag, 'DELETE', `/api/files/${fid}`, { token: tokenA });
  assert.equal(r.status, 200);
  list = await c.api(a.idTag, 'GET', '/api/files?parentId=__trash__', { token: tokenA });
  assert.deepEqual(list.json.data.map((f) => f.fileId), [fid]);
  assert.ok(!(await c.api(a.idTag, 'GET', '/api/files?parentId=__root__', { token: tokenA })).json.data.some((f) => f.fileId === fid));
  r = await c.api(a.idTag, 'POST', `/api/files/${fid}/restore`, { token: tokenA });
  assert.equal(r.json.data.status, 'A');
  r = await c.api(a.idTag, 'POST', `/api/files/${did}/duplicate`, { token: tokenA });
  assert.equal(r.status, 201);
  assert.notEqual(r.json.data.fileId, did);

  // Pagination: pages of 2 until the end, no file twice.
  const seen = new Set();
  let cursor = '';
  for (let page = 0; page < 50; page++) {
    const p = await c.api(a.idTag, 'GET', `/api/files?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { token: tokenA });
    assert.equal(p.status, 200, p.text);
    for (const f of p.json.data) { assert.ok(!seen.has(f.fileId)); seen.add(f.fileId); }
    if (!p.json.cursorPagination.hasMore) { assert.equal(p.json.cursorPagination.nextCursor, null); break; }
    cursor = p.json.cursorPagination.nextCursor;
  }
  const all = await c.api(a.idTag, 'GET', '/api/files?limit=1000', { token: tokenA });
  assert.equal(seen.size, all.json.data.length);
  const byName = await c.api(a.idTag, 'GET', '/api/files?sort=name&sortDir=asc&limit=1000', { token: tokenA });
  const names = byName.json.data.map((f) => f.fileName);
  assert.deepEqual(names, [...names].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)));
});

test('permanent delete and emptied trash remove unreferenced bytes', async () => {
  const bytes = Buffer.from(`gc-${Date.now()}`);
  const up = await upload(a, tokenA, 'file', 'gc.bin', bytes);
  const bid = blobId(bytes);
  const stored = () => readdirSync(path.join(c.env.CLOUDILLO_BLOB_DIR, String(a.tnId), bid.slice(3, 5))).includes(bid);
  assert.ok(stored());
  assert.equal((await c.api(a.idTag, 'DELETE', `/api/files/${up.json.data.fileId}`, { token: tokenA })).status, 200);
  assert.ok(stored());  // in the trash: still there
  assert.equal((await c.api(a.idTag, 'DELETE', '/api/trash', { token: tokenA })).status, 200);
  assert.ok(!stored());
  assert.equal((await c.api(a.idTag, 'GET', `/api/files/variant/${bid}`, { token: tokenA })).status, 404);
});

test('guests read public files only; a file token reads its file only, also as ?token=', async () => {
  const pub = await upload(a, tokenA, 'file', 'pub.txt', Buffer.from('public'), 'text/plain', '?visibility=P');
  const priv = await upload(a, tokenA, 'file', 'priv.txt', Buffer.from('private'), 'text/plain');
  assert.equal(pub.status, 201, pub.text);
  assert.equal((await c.api(a.idTag, 'GET', `/api/files/${pub.json.data.fileId}`)).text, 'public');
  let r = await c.api(a.idTag, 'GET', `/api/files/${priv.json.data.fileId}`);
  assert.equal(r.status, 403);
  assert.equal(r.json.error.code, 'E-AUTH-NOPERM');
  assert.equal((await c.api(a.idTag, 'GET', `/api/files/variant/${blobId(Buffer.from('private'))}`)).status, 403);
  const guestList = await c.api(a.idTag, 'GET', '/api/files?limit=1000');
  assert.ok(guestList.json.data.some((f) => f.fileId === pub.json.data.fileId));
  assert.ok(guestList.json.data.every((f) => f.visibility === 'P'), guestList.text);

  const scoped = c.mintToken(a.tnId, { iss: a.idTag, scope: `file:${priv.json.data.fileId}:R`, exp: Math.floor(Date.now() / 1000) + 600 });
  r = await c.api(a.idTag, 'GET', `/api/files/${priv.json.data.fileId}?token=${scoped}`);
  assert.equal(r.status, 200);
  assert.equal(r.text, 'private');
  r = await c.api(a.idTag, 'GET', `/api/files/${pub.json.data.fileId}/metadata?token=${scoped}`);
  assert.equal(r.status, 403);  // scoped to the other file
  r = await c.api(a.idTag, 'PATCH', `/api/files/${priv.json.data.fileId}`, { token: scoped, body: { fileName: 'x' } });
  assert.equal(r.status, 403);  // read only
  const list = await c.api(a.idTag, 'GET', `/api/files?token=${scoped}`);
  assert.deepEqual(list.json.data.map((f) => f.fileId), [priv.json.data.fileId]);
  r = await upload(a, scoped, 'file', 'x.bin', Buffer.from('x'));
  assert.equal(r.status, 403);
});

test('file tokens as apps get them (GET /api/auth/access-token?scope=file:<id>:R|W)', async () => {
  const doc = await c.api(a.idTag, 'POST', '/api/files', { token: tokenA, body: { fileTp: 'CRDT', fileName: 'App doc' } });
  const other = await upload(a, tokenA, 'file', 'other.txt', Buffer.from('other'), 'text/plain');
  const id = doc.json.data.fileId;
  const mint = async (perm) => {
    const r = await c.api(a.idTag, 'GET', `/api/auth/access-token?scope=file:${id}:${perm}`, { token: tokenA });
    assert.equal(r.status, 200, r.text);
    return r.json.data.token;
  };
  const read = await mint('R');
  let r = await c.api(a.idTag, 'GET', `/api/files/${id}/metadata?token=${read}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.accessLevel, 'read');
  assert.equal((await c.api(a.idTag, 'GET', `/api/files/${other.json.data.fileId}?token=${read}`)).status, 403);
  assert.equal((await c.api(a.idTag, 'PATCH', `/api/files/${id}`, { token: read, body: { fileName: 'x' } })).status, 403);
  assert.equal((await c.api(a.idTag, 'GET', '/api/settings', { token: read })).status, 403);  // scope stays on files
  const write = await mint('W');
  r = await c.api(a.idTag, 'PATCH', `/api/files/${id}`, { token: write, body: { fileName: 'Renamed by app' } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.fileName, 'Renamed by app');
  assert.equal((await c.api(a.idTag, 'PATCH', `/api/files/${id}`, { token: write, body: { visibility: 'P' } })).status, 403);
  assert.equal((await c.api(a.idTag, 'DELETE', `/api/files/${id}`, { token: write })).status, 403);
});

test('shares: one identity reads (R) or renames (W) a file until the share goes or expires', async () => {
  const up = await upload(a, tokenA, 'file', 'shared.txt', Buffer.from('shared'), 'text/plain');
  const id = up.json.data.fileId;
  const bob = 'bob.remote.test';
  const now = Math.floor(Date.now() / 1000);
  const bobToken = c.mintToken(a.tnId, { iss: a.idTag, sub: bob, exp: now + 600 });
  const carolToken = c.mintToken(a.tnId, { iss: a.idTag, sub: 'carol.remote.test', exp: now + 600 });
  assert.equal((await c.api(a.idTag, 'GET', `/api/files/${id}`, { token: bobToken })).status, 403);
  let r = await c.api(a.idTag, 'POST', `/api/files/${id}/shares`, { token: tokenA, body: { subjectId: bob, permission: 'R' } });
  assert.equal(r.status, 201, r.text);
  const share = r.json.data;
  assert.equal(share.fileId, id);
  assert.equal(share.subjectId, bob);
  assert.equal(share.permission, 'R');
  assert.ok(Number.isInteger(share.shareId));
  r = await c.api(a.idTag, 'GET', `/api/files/${id}`, { token: bobToken });
  assert.equal(r.status, 200);
  assert.equal(r.text, 'shared');
  assert.equal((await c.api(a.idTag, 'GET', `/api/files/variant/${blobId(Buffer.from('shared'))}`, { token: bobToken })).status, 200);
  assert.equal((await c.api(a.idTag, 'GET', `/api/files/${id}`, { token: carolToken })).status, 403);
  assert.equal((await c.api(a.idTag, 'PATCH', `/api/files/${id}`, { token: bobToken, body: { fileName: 'x' } })).status, 403);
  const bobList = await c.api(a.idTag, 'GET', '/api/files?limit=1000', { token: bobToken });
  assert.ok(bobList.json.data.some((f) => f.fileId === id));
  assert.ok(!(await c.api(a.idTag, 'GET', '/api/files?limit=1000', { token: carolToken })).json.data.some((f) => f.fileId === id));
  r = await c.api(a.idTag, 'GET', '/api/shares', { token: bobToken });
  assert.deepEqual(r.json.data.map((x) => x.fileId), [id]);
  r = await c.api(a.idTag, 'PATCH', `/api/files/${id}/shares/${share.shareId}`, { token: tokenA, body: { permission: 'W' } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.permission, 'W');
  r = await c.api(a.idTag, 'PATCH', `/api/files/${id}`, { token: bobToken, body: { fileName: 'renamed by bob' } });
  assert.equal(r.status, 200, r.text);
  assert.equal((await c.api(a.idTag, 'DELETE', `/api/files/${id}`, { token: bobToken })).status, 403);
  assert.equal((await c.api(a.idTag, 'POST', `/api/files/${id}/shares`, { token: bobToken, body: { subjectId: 'eve.test' } })).status, 403);
  assert.equal((await c.api(a.idTag, 'GET', `/api/files/${id}/shares`, { token: tokenA })).json.data.length, 1);
  assert.equal((await c.api(b.idTag, 'GET', `/api/files/${id}/shares`, { token: tokenB })).status, 404);
  r = await c.api(a.idTag, 'DELETE', `/api/files/${id}/shares/${share.shareId}`, { token: tokenA });
  assert.equal(r.status, 200);
  assert.equal((await c.api(a.idTag, 'GET', `/api/files/${id}`, { token: bobToken })).status, 403);
  // An expired share gives nothing.
  r = await c.api(a.idTag, 'POST', `/api/files/${id}/shares`, { token: tokenA, body: { subjectId: bob, expiresAt: now - 10 } });
  assert.equal(r.status, 201, r.text);
  assert.equal((await c.api(a.idTag, 'GET', `/api/files/${id}`, { token: bobToken })).status, 403);
  for (const body of [{ subjectId: 'Bad Tag' }, { subjectId: bob, permission: 'A' }, { subjectId: bob, expiresAt: 'soon' }, {}]) {
    r = await c.api(a.idTag, 'POST', `/api/files/${id}/shares`, { token: tokenA, body });
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.json.error.code, 'E-VAL-INVALID');
  }
  assert.equal((await c.api(a.idTag, 'PATCH', `/api/files/${id}/shares/abc`, { token: tokenA, body: {} })).status, 400);
  assert.equal((await c.api(a.idTag, 'DELETE', `/api/files/${id}/shares/999999`, { token: tokenA })).status, 404);
});

test("tenant isolation: B's credentials and B's host never reach A's files", async () => {
  const up = await upload(a, tokenA, 'file', 'secret.bin', Buffer.from('secret of a'));
  const id = up.json.data.fileId;
  const bid = blobId(Buffer.from('secret of a'));
  const routes = [['GET', `/api/files/${id}`], ['HEAD', `/api/files/${id}`], ['GET', `/api/files/variant/${bid}`],
    ['GET', `/api/files/${id}/descriptor`], ['GET', `/api/files/${id}/metadata`], ['PATCH', `/api/files/${id}`, { fileName: 'x' }],
    ['DELETE', `/api/files/${id}`], ['POST', `/api/files/${id}/restore`], ['POST', `/api/files/${id}/duplicate`],
    ['PATCH', `/api/files/${id}/user`, { starred: true }], ['PUT', `/api/files/${id}/tag/x`], ['DELETE', `/api/files/${id}/tag/x`],
    ['GET', `/api/files/${id}/shares`], ['POST', `/api/files/${id}/shares`, { subjectId: 'x.test' }],
    ['PATCH', `/api/files/${id}/shares/1`, { permission: 'W' }], ['DELETE', `/api/files/${id}/shares/1`]];
  for (const [method, p, body] of routes) {
    // B's own token on B's host: A's file does not exist there.
    const r = await c.api(b.idTag, method, p, { token: tokenB, body });
    assert.equal(r.status, 404, `${method} ${p}: ${r.text}`);
    // Another tenant's token is refused (401) where a route needs one; where reads are
    // open to guests it counts for nothing: a guest of B finds nothing, a guest of A
    // may not read A's private file.
    const optional = (method === 'GET' || method === 'HEAD') && !p.endsWith('/shares');
    const x = await c.api(b.idTag, method, p, { token: tokenA, body });
    assert.equal(x.status, optional ? 404 : 401, `${method} ${p}`);
    const y = await c.api(a.idTag, method, p, { token: tokenB, body });
    assert.equal(y.status, optional ? 403 : 401, `${method} ${p}`);
  }
  const listB = await c.api(b.idTag, 'GET', '/api/files?limit=1000', { token: tokenB });
  assert.ok(!listB.text.includes(id));
  const tagsB = await c.api(b.idTag, 'GET', '/api/tags', { token: tokenB });
  assert.deepEqual(tagsB.json, { tags: [] });
  // B uploading the same bytes gets a file of its own, stored under its own tenant.
  const upB = await upload(b, tokenB, 'file', 'secret.bin', Buffer.from('secret of a'));
  assert.equal(upB.status, 201, upB.text);
  assert.equal(upB.json.data.fileId, id);  // content-addressed: the same id, another tenant's row
  const tokenBfile = c.mintToken(b.tnId, { iss: b.idTag, scope: `file:${id}:W`, exp: Math.floor(Date.now() / 1000) + 600 });
  // B's file token names A's file id too, but on A's host it is nobody: a guest.
  assert.equal((await c.api(a.idTag, 'GET', `/api/files/${id}?token=${tokenBfile}`)).status, 403);
  assert.equal((await c.api(a.idTag, 'PATCH', `/api/files/${id}`, { token: tokenBfile, body: { fileName: 'x' } })).status, 401);
});

test('hostile names, ids, presets, queries and bodies get the envelope error', async () => {
  const cases = [
    ['POST', '/api/files/..%2F..%2Fetc/x.bin', 400], ['POST', '/api/files/Default/x.bin', 400],
    ['POST', '/api/files/file/a%2Fb', 400], ['POST', '/api/files/file/..', 400], ['POST', '/api/files/file/a%00b', 400],
    ['POST', '/api/files/file/a%0Ab', 400], ['POST', `/api/files/file/${'x'.repeat(300)}`, 400],
    ['POST', '/api/files/file/x.bin?parentId=..%2Fx', 400], ['POST', '/api/files/file/x.bin?visibility=Z', 400],
    ['POST', '/api/files/file/x.bin?tags=a%20b', 400],
    ['GET', '/api/files/f1~..%2F..%2Fetc%2Fpasswd', 400], ['GET', '/api/files/..', 400],
    ['GET', '/api/files/variant/b1~xyz', 400], ['GET', `/api/files/variant/f1~${'A'.repeat(43)}`, 400],
    ['GET', `/api/files/b1~${'A'.repeat(43)}/metadata`, 400], ['GET', '/api/files?bogus=1', 400],
    ['GET', '/api/files?limit=0', 400], ['GET', '/api/files?limit=abc', 400], ['GET', '/api/files?cursor=!!!', 400],
    ['GET', '/api/files?sort=size', 400], ['GET', '/api/files?parentId=%27%3B--', 400],
    ['GET', `/api/files/${'a'.repeat(24)}`, 404], ['PUT', `/api/files/${'a'.repeat(24)}/tag/a%20b`, 400],
  ];
  for (const [method, p, status] of cases) {
    const r = await c.api(a.idTag, method, p, { token: tokenA, raw: method === 'POST' ? Buffer.from('x') : undefined });
    assert.equal(r.status, status, `${method} ${p}: ${r.text}`);
    assert.ok(r.json && r.json.error && /^E-/.test(r.json.error.code), `${method} ${p}: ${r.text}`);
  }
  const r = await c.api(a.idTag, 'POST', '/api/files', { token: tokenA, body: { fileTp: 'CRDT', fileName: 'a/b' } });
  assert.equal(r.status, 400);
  const noAuth = await c.api(a.idTag, 'POST', '/api/files/file/x.bin', { raw: Buffer.from('x') });
  assert.equal(noAuth.status, 403);
});

test('PUT /api/me/image and /api/me/cover: identity publishes the uploaded pictures', async () => {
  const img = await c.api(a.idTag, 'PUT', '/api/me/image', { token: tokenA, raw: png(400, 300), headers: { 'Content-Type': 'image/png' } });
  assert.ok(img.status === 201 || img.status === 200, img.text);
  const id = img.json.data.fileId;
  const d = (await c.api(a.idTag, 'GET', `/api/files/${id}/descriptor`, { token: tokenA })).json.data;
  assert.match(d, /vis\.pf:b1~[A-Za-z0-9_-]{43}:f=(avif|webp):s=\d+:r=80x60/);
  assert.match(d, /vis\.tn:b1~[A-Za-z0-9_-]{43}:f=webp:s=\d+:r=256x192/);
  let me;
  for (let i = 0; i < 20; i++) {  // the gateway drops its cached /api/me through Redis
    me = await c.api(a.idTag, 'GET', '/api/me');
    if (me.json.data.profilePic === id) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(me.json.data.profilePic, id);
  const pf = await c.api(a.idTag, 'GET', `/api/files/${id}?variant=vis.pf`);  // public: no token
  assert.equal(pf.status, 200);
  const cover = await c.api(a.idTag, 'PUT', '/api/me/cover', { token: tokenA, raw: png(1600, 400, [1, 2, 3]), headers: { 'Content-Type': 'image/png' } });
  assert.ok(cover.status === 201 || cover.status === 200, cover.text);
  const full = await c.api(a.idTag, 'GET', '/api/me/full', { token: tokenA });
  assert.equal(full.json.data.coverPic, cover.json.data.fileId);
  const bad = await c.api(a.idTag, 'PUT', '/api/me/image', { token: tokenA, raw: Buffer.from('<svg/>'), headers: { 'Content-Type': 'image/svg+xml' } });
  assert.equal(bad.status, 400);
  const guest = await c.api(a.idTag, 'PUT', '/api/me/image', { raw: png(10, 10), headers: { 'Content-Type': 'image/png' } });
  assert.equal(guest.status, 403);
});
