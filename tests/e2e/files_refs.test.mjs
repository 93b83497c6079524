// Share links (PROTOCOL §8 "Refs", §3.6 `refId=`, Appendix C.5) and conditional
// downloads (§4.4): the owner mints a `share.file` ref, a visitor exchanges it for an
// anonymous token scoped to that one file, uses are counted, expiry and revocation
// hold, refs stay inside their tenant, and If-None-Match answers 304.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster } from './cluster.mjs';
import { blobId } from './files_helpers.mjs';

const c = new Cluster();
let a, b, tokenA, tokenB;
before(async () => {
  await c.start();
  a = c.createTenant('a.refs.test');
  b = c.createTenant('b.refs.test');
  tokenA = await c.login(a);
  tokenB = await c.login(b);
});
after(() => c.stop());

const upload = (tenant, token, name, bytes, query = '') =>
  c.api(tenant.idTag, 'POST', `/api/files/file/${encodeURIComponent(name)}${query}`,
    { token, raw: bytes, headers: { 'Content-Type': 'text/plain' } });
const claimsOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
const createRef = (tenant, token, body) => c.api(tenant.idTag, 'POST', '/api/refs', { token, body });
const redeem = (tenant, refId, extra = '') =>
  c.api(tenant.idTag, 'GET', `/api/auth/access-token?refId=${encodeURIComponent(refId)}${extra}`);

test('a share link: created by the owner, exchanged by a guest for a token that reads that file only', async () => {
  const doc = await upload(a, tokenA, 'shared.txt', Buffer.from('shared by link'));
  const other = await upload(a, tokenA, 'other.txt', Buffer.from('not shared'));
  const id = doc.json.data.fileId;
  const r = await createRef(a, tokenA, { type: 'share.file', resourceId: id, description: 'for Bob', count: 2, params: 'mode=present' });
  assert.equal(r.status, 201, r.text);
  const ref = r.json.data;
  assert.match(ref.refId, /^[0-9A-Za-z]{24}$/);
  assert.equal(ref.type, 'share.file');
  assert.equal(ref.description, 'for Bob');
  assert.equal(ref.resourceId, id);
  assert.equal(ref.accessLevel, 'read');
  assert.equal(ref.count, 2);
  assert.equal(ref.params, 'mode=present');
  assert.match(ref.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(ref.expiresAt, undefined);

  // The public lookup: a guest learns the type only; the owner everything.
  let g = await c.api(a.idTag, 'GET', `/api/refs/${ref.refId}`);
  assert.equal(g.status, 200, g.text);
  assert.deepEqual(g.json.data, { refId: ref.refId, type: 'share.file' });
  g = await c.api(a.idTag, 'GET', `/api/refs/${ref.refId}`, { token: tokenA });
  assert.equal(g.json.data.resourceId, id);

  // The exchange (tRefAccessTokenResult): anonymous, scoped, one use spent.
  const x = await redeem(a, ref.refId);
  assert.equal(x.status, 200, x.text);
  assert.equal(x.json.data.scope, `file:${id}:R`);
  assert.equal(x.json.data.resourceId, id);
  assert.equal(x.json.data.accessLevel, 'read');
  assert.equal(x.json.data.params, 'mode=present');
  const claims = claimsOf(x.json.data.token);
  assert.equal(claims.iss, a.idTag);
  assert.equal(claims.sub, undefined);
  assert.equal(claims.r, undefined);
  assert.equal(claims.scope, `file:${id}:R`);
  const guest = x.json.data.token;
  assert.equal((await c.api(a.idTag, 'GET', `/api/files/${id}?token=${guest}`)).text, 'shared by link');
  assert.equal((await c.api(a.idTag, 'GET', `/api/files/${id}`, { token: guest })).status, 200);
  assert.equal((await c.api(a.idTag, 'GET', `/api/files/${other.json.data.fileId}?token=${guest}`)).status, 403);
  assert.equal((await c.api(a.idTag, 'PATCH', `/api/files/${id}`, { token: guest, body: { fileName: 'x' } })).status, 403);
  // A guest of the link manages no refs, not even to look at them.
  assert.equal((await c.api(a.idTag, 'GET', '/api/refs', { token: guest })).status, 403);
  assert.equal((await createRef(a, guest, { type: 'share.file', resourceId: id })).status, 403);
  assert.equal((await c.api(a.idTag, 'DELETE', `/api/refs/${ref.refId}`, { token: guest })).status, 403);
  g = await c.api(a.idTag, 'GET', `/api/refs/${ref.refId}`, { token: guest });
  assert.deepEqual(g.json.data, { refId: ref.refId, type: 'share.file' });

  // refresh=true validates without spending; the second real use is the last.
  for (let i = 0; i < 3; i++) assert.equal((await redeem(a, ref.refId, '&refresh=true')).status, 200);
  assert.equal((await redeem(a, ref.refId)).status, 200);
  const spent = await redeem(a, ref.refId);
  assert.equal(spent.status, 400, spent.text);
  assert.equal(spent.json.error.code, 'E-VAL-INVALID');
  assert.equal((await redeem(a, ref.refId, '&refresh=true')).status, 400);

  // Listing: used-up refs leave the default (active) list and show under filter=used.
  let l = await c.api(a.idTag, 'GET', '/api/refs?type=share.file', { token: tokenA });
  assert.equal(l.status, 200, l.text);
  assert.deepEqual(l.json.pagination, { offset: 0, limit: l.json.data.length, total: l.json.data.length });
  assert.ok(!l.json.data.some((x2) => x2.refId === ref.refId));
  l = await c.api(a.idTag, 'GET', `/api/refs?filter=used&resourceId=${encodeURIComponent(id)}`, { token: tokenA });
  assert.deepEqual(l.json.data.map((x2) => [x2.refId, x2.count]), [[ref.refId, 0]]);
  // A used-up link cannot be re-opened by PATCH.
  const res = await c.api(a.idTag, 'PATCH', `/api/refs/${ref.refId}`, { token: tokenA, body: { count: 5 } });
  assert.equal(res.status, 400, res.text);
});

test('write links, unlimited uses, PATCH, expiry and revocation', async () => {
  const doc = await c.api(a.idTag, 'POST', '/api/files', { token: tokenA, body: { fileTp: 'CRDT', fileName: 'Linked doc' } });
  const id = doc.json.data.fileId;
  const r = await createRef(a, tokenA, { type: 'share.file', resourceId: id, accessLevel: 'write', count: null });
  assert.equal(r.status, 201, r.text);
  const ref = r.json.data;
  assert.equal(ref.count, undefined);  // unlimited
  assert.equal(ref.accessLevel, 'write');
  for (let i = 0; i < 3; i++) assert.equal((await redeem(a, ref.refId)).status, 200);
  const w = (await redeem(a, ref.refId)).json.data;
  assert.equal(w.scope, `file:${id}:W`);
  assert.equal(w.accessLevel, 'write');
  const renamed = await c.api(a.idTag, 'PATCH', `/api/files/${id}`, { token: w.token, body: { fileName: 'Renamed by guest' } });
  assert.equal(renamed.status, 200, renamed.text);

  // Narrowed to comment: new tokens carry C.
  let p = await c.api(a.idTag, 'PATCH', `/api/refs/${ref.refId}`, { token: tokenA, body: { accessLevel: 'comment', description: 'x' } });
  assert.equal(p.status, 200, p.text);
  assert.equal(p.json.data.accessLevel, 'comment');
  assert.equal((await redeem(a, ref.refId)).json.data.scope, `file:${id}:C`);
  // Expired by PATCH (a time in the past is refused; a near one is accepted, then waited out).
  p = await c.api(a.idTag, 'PATCH', `/api/refs/${ref.refId}`, { token: tokenA, body: { expiresAt: Math.floor(Date.now() / 1000) - 5 } });
  assert.equal(p.status, 400);
  p = await c.api(a.idTag, 'PATCH', `/api/refs/${ref.refId}`, { token: tokenA, body: { expiresAt: Math.floor(Date.now() / 1000) + 2 } });
  assert.equal(p.status, 200, p.text);
  assert.match(p.json.data.expiresAt, /Z$/);
  await new Promise((ok) => setTimeout(ok, 3100));
  assert.equal((await redeem(a, ref.refId)).status, 400);
  let l = await c.api(a.idTag, 'GET', '/api/refs?filter=expired', { token: tokenA });
  assert.ok(l.json.data.some((x) => x.refId === ref.refId), l.text);
  l = await c.api(a.idTag, 'GET', '/api/refs?filter=all', { token: tokenA });
  assert.ok(l.json.data.some((x) => x.refId === ref.refId));

  // Revocation.
  const r2 = (await createRef(a, tokenA, { type: 'share.file', resourceId: id, expiresAt: new Date(Date.now() + 3600e3).toISOString() })).json.data;
  assert.ok(r2.expiresAt);
  assert.equal((await c.api(a.idTag, 'DELETE', `/api/refs/${r2.refId}`, { token: tokenA })).status, 200);
  assert.equal((await redeem(a, r2.refId)).status, 400);
  assert.equal((await c.api(a.idTag, 'GET', `/api/refs/${r2.refId}`)).status, 404);
  assert.equal((await c.api(a.idTag, 'DELETE', `/api/refs/${r2.refId}`, { token: tokenA })).status, 404);
});

test('only the owner mints, and only share.file', async () => {
  const doc = await upload(a, tokenA, 'owner-only.txt', Buffer.from('owner only'));
  const id = doc.json.data.fileId;
  for (const type of ['password', 'welcome', 'register', 'profile.invite', 'idp.activation', 'share.folder']) {
    const r = await createRef(a, tokenA, { type, resourceId: id });
    assert.equal(r.status, 403, `${type}: ${r.text}`);
  }
  // A file-scoped token of the owner's own tenant (an app's) is not the owner.
  const app = (await c.api(a.idTag, 'GET', `/api/auth/access-token?scope=file:${id}:W`, { token: tokenA })).json.data.token;
  assert.equal((await createRef(a, app, { type: 'share.file', resourceId: id })).status, 403);
  assert.equal((await c.api(a.idTag, 'GET', '/api/refs', { token: app })).status, 403);
  // No token at all.
  assert.equal((await createRef(a, undefined, { type: 'share.file', resourceId: id })).status, 403);
  assert.equal((await c.api(a.idTag, 'GET', '/api/refs')).status, 403);
});

test("tenant isolation: A's refs are invisible and useless on B's host and to B's owner", async () => {
  const doc = await upload(a, tokenA, 'isolated.txt', Buffer.from('isolated'));
  const id = doc.json.data.fileId;
  const ref = (await createRef(a, tokenA, { type: 'share.file', resourceId: id, count: null })).json.data;
  // On B's host the ref does not exist: no token, no lookup, no change, no revocation.
  const onB = await redeem(b, ref.refId);
  assert.equal(onB.status, 400, onB.text);
  assert.equal((await c.api(b.idTag, 'GET', `/api/refs/${ref.refId}`)).status, 404);
  assert.equal((await c.api(b.idTag, 'GET', `/api/refs/${ref.refId}`, { token: tokenB })).status, 404);
  assert.equal((await c.api(b.idTag, 'PATCH', `/api/refs/${ref.refId}`, { token: tokenB, body: { count: 3 } })).status, 404);
  assert.equal((await c.api(b.idTag, 'DELETE', `/api/refs/${ref.refId}`, { token: tokenB })).status, 404);
  const listB = await c.api(b.idTag, 'GET', '/api/refs?filter=all', { token: tokenB });
  assert.equal(listB.status, 200);
  assert.ok(!listB.text.includes(ref.refId));
  // B's token on A's host is refused where a token is required (401), a guest elsewhere.
  assert.equal((await c.api(a.idTag, 'GET', '/api/refs', { token: tokenB })).status, 401);
  assert.equal((await c.api(a.idTag, 'DELETE', `/api/refs/${ref.refId}`, { token: tokenB })).status, 401);
  assert.equal((await c.api(a.idTag, 'PATCH', `/api/refs/${ref.refId}`, { token: tokenB, body: { count: 3 } })).status, 401);
  assert.equal((await createRef(a, tokenB, { type: 'share.file', resourceId: id })).status, 401);
  // The token A's link yields is A's: on B's host it is nobody, even for B's copy of the same bytes.
  const guest = (await redeem(a, ref.refId)).json.data.token;
  const upB = await upload(b, tokenB, 'isolated.txt', Buffer.from('isolated'));
  assert.equal(upB.json.data.fileId, id);
  assert.equal((await c.api(b.idTag, 'GET', `/api/files/${id}?token=${guest}`)).status, 403);
  // The ref still works on A afterwards.
  assert.equal((await redeem(a, ref.refId)).status, 200);
});

test('hostile ref ids and bodies get the envelope error, never a 5xx', async () => {
  const doc = await upload(a, tokenA, 'hostile.txt', Buffer.from('hostile'));
  const id = doc.json.data.fileId;
  for (const refId of ['', "x'; DROP TABLE refs; --", '../../etc/passwd', 'a'.repeat(65), '%00', 'ä', 'a b', '*']) {
    const r = await redeem(a, refId);
    assert.equal(r.status, 400, `${refId}: ${r.text}`);
    assert.equal(r.json.error.code, 'E-VAL-INVALID');
  }
  for (const p of ['/api/refs/%27%3B--', `/api/refs/${'a'.repeat(300)}`, '/api/refs/..%2F..']) {
    const r = await c.api(a.idTag, 'GET', p, { token: tokenA });
    assert.ok(r.status === 404 || r.status === 400, `${p}: ${r.status} ${r.text}`);
    assert.match(r.json.error.code, /^E-/);
  }
  const bodies = [{}, { type: '' }, { type: 'share.file' }, { type: 'share.file', resourceId: 'f1~a:W' },
    { type: 'share.file', resourceId: id, accessLevel: 'admin' }, { type: 'share.file', resourceId: id, count: 0 },
    { type: 'share.file', resourceId: id, count: -1 }, { type: 'share.file', resourceId: id, count: 'many' },
    { type: 'share.file', resourceId: id, expiresAt: 'tomorrow' }, { type: 'share.file', resourceId: id, expiresAt: 1 },
    { type: 'share.file', resourceId: id, description: 'x'.repeat(3000) }, { type: 'share.file', resourceId: [id] }];
  for (const body of bodies) {
    const r = await createRef(a, tokenA, body);
    assert.equal(r.status, 400, `${JSON.stringify(body).slice(0, 80)}: ${r.text}`);
    assert.equal(r.json.error.code, 'E-VAL-INVALID');
  }
  const notJson = await c.api(a.idTag, 'POST', '/api/refs', { token: tokenA, raw: Buffer.from('{"type":'), headers: { 'Content-Type': 'application/json' } });
  assert.equal(notJson.status, 400);
  const ref = (await createRef(a, tokenA, { type: 'share.file', resourceId: id })).json.data;
  for (const body of [{}, { count: 0 }, { accessLevel: null }, { accessLevel: 'A' }, { expiresAt: [] }]) {
    const r = await c.api(a.idTag, 'PATCH', `/api/refs/${ref.refId}`, { token: tokenA, body });
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
  }
  const badFilter = await c.api(a.idTag, 'GET', '/api/refs?filter=everything', { token: tokenA });
  assert.equal(badFilter.status, 400);
});

test('If-None-Match: downloads, variants and the descriptor answer 304 with the ETag', async () => {
  const bytes = Buffer.from('conditional bytes');
  const up = await upload(a, tokenA, 'cond.txt', bytes);
  const id = up.json.data.fileId;
  const bid = blobId(bytes);
  for (const p of [`/api/files/${id}`, `/api/files/variant/${bid}`]) {
    for (const method of ['GET', 'HEAD']) {
      for (const inm of [`"${bid}"`, `W/"${bid}"`, `"nope", "${bid}"`, '*']) {
        const r = await c.api(a.idTag, method, p, { token: tokenA, headers: { 'If-None-Match': inm } });
        assert.equal(r.status, 304, `${method} ${p} ${inm}: ${r.status}`);
        assert.equal(r.headers.etag, `"${bid}"`);
        assert.equal(r.headers['cache-control'], 'public, max-age=31536000, immutable');
        assert.equal(r.bytes.length, 0);
      }
      const miss = await c.api(a.idTag, method, p, { token: tokenA, headers: { 'If-None-Match': '"b1~other"' } });
      assert.equal(miss.status, 200);
      if (method === 'GET') assert.ok(miss.bytes.equals(bytes));
    }
    // Permission comes first: a guest's matching tag learns nothing but 403.
    const guest = await c.api(a.idTag, 'GET', p, { headers: { 'If-None-Match': `"${bid}"` } });
    assert.equal(guest.status, 403);
  }
  const d = await c.api(a.idTag, 'GET', `/api/files/${id}/descriptor`, { token: tokenA });
  assert.equal(d.status, 200);
  assert.equal(d.headers.etag, `"${id}"`);
  const d304 = await c.api(a.idTag, 'GET', `/api/files/${id}/descriptor`, { token: tokenA, headers: { 'If-None-Match': d.headers.etag } });
  assert.equal(d304.status, 304);
  assert.equal(d304.headers.etag, `"${id}"`);
  assert.equal(d304.bytes.length, 0);
  const dMiss = await c.api(a.idTag, 'GET', `/api/files/${id}/descriptor`, { token: tokenA, headers: { 'If-None-Match': `"${bid}"` } });
  assert.equal(dMiss.status, 200);
  assert.equal(dMiss.json.data, d.json.data);
  // B's host: A's tag does not make A's file appear.
  const onB = await c.api(b.idTag, 'GET', `/api/files/${id}`, { token: tokenB, headers: { 'If-None-Match': `"${bid}"` } });
  assert.equal(onB.status, 404);
});
