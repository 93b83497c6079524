// The real-time database /ws/rtdb/{fileId} (PROTOCOL §6) on the split cluster, through
// the gateway: transactions, queries, get, subscriptions with live pushes (also across
// two collab replicas behind two gateways), concurrent increments, hard locks,
// read-only access, tenant isolation and hostile frames.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { Cluster } from './cluster.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const c = new Cluster();
let rita, ravi, ritaToken, raviToken;

before(async () => {
  await c.start();
  rita = c.createTenant('rita.rtdb.test');
  ravi = c.createTenant('ravi.rtdb.test');
  ritaToken = await c.login(rita);
  raviToken = await c.login(ravi);
});
after(async () => {
  await c.stop();
});

async function newDb(tenant, token, name = 'Db') {
  const r = await c.api(tenant.idTag, 'POST', '/api/files', { token, body: { fileTp: 'RTDB', fileName: name } });
  assert.equal(r.status, 201, r.text);
  return r.json.data.fileId;
}

async function waitFor(what, fn, ms = 5000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

// A JSON client: `call` sends one command and resolves with the answer of its id;
// pushes (`change`, `presenceChange`) collect in `pushes`.
function connect(idTag, fileId, { token, access, presence, port = c.ports.http } = {}) {
  const q = new URLSearchParams();
  if (token) q.set('token', token);
  if (access) q.set('access', access);
  if (presence) q.set('presence', '1');
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/rtdb/${encodeURIComponent(fileId)}?${q}`, {
    headers: { Host: `cl-o.${idTag}`, 'X-Forwarded-For': c.clientIp },
    maxPayload: 8 << 20,
  });
  const s = { ws, pushes: [], answers: new Map(), closed: null, nextId: 0 };
  s.openP = new Promise((resolve) => ws.on('open', resolve));
  s.closedP = new Promise((resolve) => ws.on('close', (code, reason) => {
    s.closed = { code, reason: reason.toString() };
    resolve(s.closed);
  }));
  ws.on('error', () => {});
  ws.on('message', (data) => {
    const m = JSON.parse(data.toString());
    if (typeof m.id === 'number') s.answers.set(m.id, m);
    else s.pushes.push(m);
  });
  s.call = async (frame) => {
    const id = ++s.nextId;
    ws.send(JSON.stringify({ ...frame, id }));
    return waitFor(`answer to ${frame.type}`, () => s.answers.get(id) || (s.closed && { type: 'closed', ...s.closed }));
  };
  s.tx = (operations) => s.call({ type: 'transaction', operations });
  s.close = async () => { if (!s.closed) { ws.close(); await s.closedP; } };
  return s;
}
async function opened(s) {
  await Promise.race([s.openP, s.closedP]);
  assert.equal(s.closed, null, `closed on open: ${JSON.stringify(s.closed)}`);
  return s;
}
const changes = (s, sub) => s.pushes.filter((p) => p.type === 'change' && p.subscriptionId === sub).map((p) => p.event);

test('transactions create, update and delete; query filters, sorts and limits; get reads one', async () => {
  const id = await newDb(rita, ritaToken);
  const a = await opened(connect(rita.idTag, id, { token: ritaToken }));
  const made = await a.tx([
    { type: 'create', path: 'tasks', ref: '$t1', data: { title: 'one', prio: 3, done: false } },
    { type: 'create', path: 'tasks', ref: '$t2', data: { title: 'two', prio: 1, done: false } },
    { type: 'create', path: 'tasks', ref: '$t3', data: { title: 'three', prio: 2, done: true } },
    { type: 'create', path: 'tasks/${$t1}/notes', data: { text: 'nested' } },
  ]);
  assert.equal(made.type, 'transactionResult', JSON.stringify(made));
  assert.equal(made.results.length, 4);
  const [t1, t2, t3, n1] = made.results.map((r) => r.id);
  // The back reference put the note under the first task.
  assert.equal((await a.call({ type: 'get', path: `tasks/${t1}/notes/${n1}` })).data.text, 'nested');
  assert.equal(made.results[0].ref, '$t1');
  assert.match(t1, /^[A-Za-z0-9_-]{24}$/);

  const upd = await a.tx([{ type: 'update', path: `tasks/${t2}`, data: { done: true, 'meta.by': 'rita' } }]);
  assert.equal(upd.type, 'transactionResult', JSON.stringify(upd));
  const got = await a.call({ type: 'get', path: `tasks/${t2}` });
  assert.equal(got.type, 'getResult');
  assert.deepEqual({ ...got.data, id: undefined }, { id: undefined, title: 'two', prio: 1, done: true, meta: { by: 'rita' } });

  const q = await a.call({
    type: 'query', path: 'tasks', filter: { equals: { done: true } }, sort: [{ field: 'prio', ascending: false }], limit: 5,
  });
  assert.equal(q.type, 'queryResult', JSON.stringify(q));
  assert.deepEqual(q.data.map((d) => d.id), [t3, t2]);
  const lim = await a.call({ type: 'query', path: 'tasks', sort: [{ field: 'prio', ascending: true }], limit: 2 });
  assert.deepEqual(lim.data.map((d) => d.title), ['two', 'three']);

  const del = await a.tx([{ type: 'delete', path: `tasks/${t3}` }]);
  assert.equal(del.type, 'transactionResult');
  assert.equal((await a.call({ type: 'get', path: `tasks/${t3}` })).data ?? null, null);
  assert.equal((await a.call({ type: 'query', path: 'tasks' })).data.length, 2);
  // An atomic transaction: the failing second operation rolls back the first.
  const bad = await a.tx([
    { type: 'update', path: `tasks/${t1}`, data: { title: 'changed' } },
    { type: 'create', path: 'tasks', data: { x: { $op: 'nonsense' } } },
  ]);
  assert.equal(bad.type, 'error', JSON.stringify(bad));
  assert.equal((await a.call({ type: 'get', path: `tasks/${t1}` })).data.title, 'one');
  assert.equal((await a.call({ type: 'ping' })).type, 'pong');
  await a.close();
});

test('a subscription gets ready, then live create, update and delete pushes from another client', async () => {
  const id = await newDb(rita, ritaToken);
  const a = await opened(connect(rita.idTag, id, { token: ritaToken }));
  const b = await opened(connect(rita.idTag, id, { token: ritaToken }));
  const seed = await a.tx([{ type: 'create', path: 'posts', data: { text: 'seed' } }]);
  const sub = await b.call({ type: 'subscribe', path: 'posts' });
  assert.equal(sub.type, 'subscribeResult', JSON.stringify(sub));
  const sid = sub.subscriptionId;
  const ready = await waitFor('ready', () => changes(b, sid).find((e) => e.action === 'ready'));
  assert.deepEqual(ready.data.map((d) => d.id), [seed.results[0].id]);

  const made = await a.tx([{ type: 'create', path: 'posts', data: { text: 'live' } }]);
  const pid = made.results[0].id;
  const created = await waitFor('create', () => changes(b, sid).find((e) => e.action === 'create'));
  assert.equal(created.path, `posts/${pid}`);
  assert.equal(created.data.text, 'live');
  await a.tx([{ type: 'update', path: `posts/${pid}`, data: { text: 'edited' } }]);
  const updated = await waitFor('update', () => changes(b, sid).find((e) => e.action === 'update'));
  assert.equal(updated.data.text, 'edited');
  await a.tx([{ type: 'delete', path: `posts/${pid}` }]);
  const deleted = await waitFor('delete', () => changes(b, sid).find((e) => e.action === 'delete'));
  assert.equal(deleted.path, `posts/${pid}`);
  // After unsubscribing nothing more arrives.
  assert.equal((await b.call({ type: 'unsubscribe', subscriptionId: sid })).type, 'unsubscribeResult');
  const before = changes(b, sid).length;
  await a.tx([{ type: 'create', path: 'posts', data: { text: 'unseen' } }]);
  await sleep(300);
  assert.equal(changes(b, sid).length, before);
  await Promise.all([a.close(), b.close()]);
});

test('concurrent increments from two clients add up exactly', async () => {
  const id = await newDb(rita, ritaToken);
  const a = await opened(connect(rita.idTag, id, { token: ritaToken }));
  const b = await opened(connect(rita.idTag, id, { token: ritaToken }));
  await a.tx([{ type: 'replace', path: 'counters/hits', data: { n: 0 } }]);
  const N = 25;
  const run = async (s) => {
    for (let i = 0; i < N; i++) {
      const r = await s.tx([{ type: 'update', path: 'counters/hits', data: { n: { $op: 'increment', by: 1 } } }]);
      assert.equal(r.type, 'transactionResult', JSON.stringify(r));
    }
  };
  await Promise.all([run(a), run(b)]);
  assert.equal((await a.call({ type: 'get', path: 'counters/hits' })).data.n, 2 * N);
  await Promise.all([a.close(), b.close()]);
});

test('a hard lock makes another writer get 423 until unlocked', async () => {
  const id = await newDb(rita, ritaToken);
  // The second writer is a different identity: a share-link visitor is anonymous.
  const a = await opened(connect(rita.idTag, id, { token: ritaToken }));
  await a.tx([{ type: 'replace', path: 'docs/d1', data: { v: 1 } }]);
  // A sub-less file token, as a share link mints: an anonymous writer (anon:<connId>).
  const link = c.mintToken(rita.tnId, { iss: rita.idTag, scope: `file:${id}:W`, exp: Math.floor(Date.now() / 1000) + 600 });
  const b = await opened(connect(rita.idTag, id, { token: link }));
  const lock = await a.call({ type: 'lock', path: 'docs/d1', mode: 'hard' });
  assert.equal(lock.locked, true, JSON.stringify(lock));
  const other = await b.call({ type: 'lock', path: 'docs/d1', mode: 'hard' });
  assert.equal(other.locked, false, JSON.stringify(other));
  const denied = await b.tx([{ type: 'update', path: 'docs/d1', data: { v: 2 } }]);
  assert.equal(denied.type, 'error');
  assert.equal(denied.code, 423, JSON.stringify(denied));
  assert.equal((await a.tx([{ type: 'update', path: 'docs/d1', data: { v: 3 } }])).type, 'transactionResult');
  assert.equal((await a.call({ type: 'unlock', path: 'docs/d1' })).type, 'unlockResult');
  assert.equal((await b.tx([{ type: 'update', path: 'docs/d1', data: { v: 4 } }])).type, 'transactionResult');
  // A lock dies with its connection.
  assert.equal((await b.call({ type: 'lock', path: 'docs/d1', mode: 'hard' })).locked, true);
  await b.close();
  let ok = false;
  for (let i = 0; i < 50 && !ok; i++) {
    ok = (await a.tx([{ type: 'update', path: 'docs/d1', data: { v: 5 } }])).type === 'transactionResult';
    if (!ok) await sleep(100);
  }
  assert.ok(ok, 'the closed connection released its lock');
  await a.close();
});

test('read-only connections get 403 on writes; a guest on a private file is refused', async () => {
  const id = await newDb(rita, ritaToken);
  const w = await opened(connect(rita.idTag, id, { token: ritaToken }));
  await w.tx([{ type: 'replace', path: 'items/x', data: { v: 1 } }]);
  const r = await opened(connect(rita.idTag, id, { token: ritaToken, access: 'read' }));
  assert.equal((await r.call({ type: 'get', path: 'items/x' })).data.v, 1);
  const denied = await r.tx([{ type: 'update', path: 'items/x', data: { v: 2 } }]);
  assert.equal(denied.code, 403, JSON.stringify(denied));
  // A read file token: reads, never writes; asking for write is 4403.
  const tok = await c.api(rita.idTag, 'GET', `/api/auth/access-token?scope=file:${id}:R`, { token: ritaToken });
  assert.equal(tok.status, 200, tok.text);
  assert.equal((await connect(rita.idTag, id, { token: tok.json.data.token, access: 'write' }).closedP).code, 4403);
  const ro = await opened(connect(rita.idTag, id, { token: tok.json.data.token }));
  assert.equal((await ro.tx([{ type: 'delete', path: 'items/x' }])).code, 403);
  assert.equal((await connect(rita.idTag, id, {}).closedP).code, 4403);
  assert.equal((await w.call({ type: 'get', path: 'items/x' })).data.v, 1);
  await Promise.all([w.close(), r.close(), ro.close()]);
});

test('tenant isolation: one tenant never opens or reads another tenant\'s database', async () => {
  const id = await newDb(rita, ritaToken);
  const a = await opened(connect(rita.idTag, id, { token: ritaToken }));
  await a.tx([{ type: 'replace', path: 'secret/s', data: { v: 'rita' } }]);
  // Ravi's token on Rita's host is a guest: 4403; Rita's id on Ravi's host: 4404.
  assert.equal((await connect(rita.idTag, id, { token: raviToken }).closedP).code, 4403);
  assert.equal((await connect(ravi.idTag, id, { token: raviToken }).closedP).code, 4404);
  // Side databases inherit their file: the same rule.
  assert.equal((await connect(rita.idTag, `${id}~meta`, { token: raviToken }).closedP).code, 4403);
  assert.equal((await connect(ravi.idTag, `${id}~meta`, { token: raviToken }).closedP).code, 4404);
  const meta = await opened(connect(rita.idTag, `${id}~meta`, { token: ritaToken }));
  assert.equal((await meta.tx([{ type: 'create', path: 'c', data: { text: 'a comment' } }])).type, 'transactionResult');
  // A file token opens its file's side database with the file's rights, and only that.
  const exp = Math.floor(Date.now() / 1000) + 600;
  const other = await newDb(rita, ritaToken);
  const otherTok = c.mintToken(rita.tnId, { iss: rita.idTag, scope: `file:${other}:W`, exp });
  assert.equal((await connect(rita.idTag, `${id}~meta`, { token: otherTok }).closedP).code, 4403);
  const readTok = c.mintToken(rita.tnId, { iss: rita.idTag, scope: `file:${id}:R`, exp });
  const metaRo = await opened(connect(rita.idTag, `${id}~meta`, { token: readTok }));
  assert.equal((await metaRo.call({ type: 'query', path: 'c' })).data.length, 1);
  assert.equal((await metaRo.tx([{ type: 'create', path: 'c', data: { text: 'no' } }])).code, 403);
  await metaRo.close();
  // Stores are per tenant: the same name holds different documents.
  const sa = await opened(connect(rita.idTag, 's~rtdbnotes', { token: ritaToken }));
  await sa.tx([{ type: 'replace', path: 'n/1', data: { who: 'rita' } }]);
  const sb = await opened(connect(ravi.idTag, 's~rtdbnotes', { token: raviToken }));
  assert.equal((await sb.call({ type: 'get', path: 'n/1' })).data ?? null, null);
  await Promise.all([a.close(), meta.close(), sa.close(), sb.close()]);
  // A CRDT file is no RTDB database; a CRDT store under the RTDB URL is a type mismatch.
  const crdt = await c.api(rita.idTag, 'POST', '/api/files', { token: ritaToken, body: { fileTp: 'CRDT', fileName: 'D' } });
  assert.equal((await connect(rita.idTag, crdt.json.data.fileId, { token: ritaToken }).closedP).code, 4404);
  const cs = new WebSocket(`ws://127.0.0.1:${c.ports.http}/ws/crdt/s~rtdbcrdt?token=${ritaToken}`,
    { headers: { Host: `cl-o.${rita.idTag}`, 'X-Forwarded-For': c.clientIp } });
  cs.on('error', () => {});
  await new Promise((resolve) => cs.on('open', resolve));
  cs.close();
  assert.equal((await connect(rita.idTag, 's~rtdbcrdt', { token: ritaToken }).closedP).code, 4409);
  assert.equal((await connect(rita.idTag, 's~Bad!', { token: ritaToken }).closedP).code, 4400);
  assert.equal((await connect(rita.idTag, 'nosuchfile123456789012', { token: ritaToken }).closedP).code, 4404);
});

test('hostile frames get 400 or close the socket; the service stays up', async () => {
  const id = await newDb(rita, ritaToken);
  const s = await opened(connect(rita.idTag, id, { token: ritaToken }));
  // As in the reference, what is not a {id, type} object gets no answer at all.
  s.ws.send('{not json');
  s.ws.send(JSON.stringify([1, 2, 3]));
  s.ws.send(JSON.stringify({ id: 5, type: 'query', path: 'a', filter: JSON.parse('['.repeat(200) + ']'.repeat(200)) }));
  const unknown = await s.call({ type: 'frobnicate' });
  assert.equal(unknown.type, 'error');
  assert.equal(unknown.code, 400);
  assert.equal(s.answers.get(5), undefined);
  assert.deepEqual(s.pushes, []);
  assert.equal((await s.call({ type: 'transaction', operations: 'nope' })).code, 400);
  const badPath = await s.tx([{ type: 'create', path: '../../etc', data: {} }]);
  assert.equal(badPath.type, 'error');
  assert.equal((await s.call({ type: 'ping' })).type, 'pong');
  // A frame beyond 1 MiB closes the socket; a binary frame too.
  s.ws.send(JSON.stringify({ id: 99, type: 'ping', pad: 'x'.repeat((1 << 20) + 10) }));
  const code = (await s.closedP).code;
  // The gateway closes with 1009 while the client may still be writing: the client then
  // sees the reset (1006) instead of the close frame.
  assert.ok(code === 1009 || code === 1006, `closed with ${code}`);
  const bin = await opened(connect(rita.idTag, id, { token: ritaToken }));
  bin.ws.send(Buffer.from([1, 2, 3]));
  assert.equal((await bin.closedP).code, 1003);
  const again = await opened(connect(rita.idTag, id, { token: ritaToken }));
  assert.equal((await again.call({ type: 'ping' })).type, 'pong');
  await again.close();
  assert.ok(c.procs.collab.exitCode === null, 'collab still running');
});

test('a subscriber on a second replica behind a second gateway sees changes made via the first', async () => {
  const port2 = await c.startSecondCollab();
  const id = await newDb(rita, ritaToken);
  const a = await opened(connect(rita.idTag, id, { token: ritaToken }));
  const b = await opened(connect(rita.idTag, id, { token: ritaToken, port: port2 }));
  const sub = await b.call({ type: 'subscribe', path: 'msgs' });
  const sid = sub.subscriptionId;
  await waitFor('ready', () => changes(b, sid).find((e) => e.action === 'ready'));
  const made = await a.tx([{ type: 'create', path: 'msgs', data: { text: 'across' } }]);
  const created = await waitFor('cross-replica create', () => changes(b, sid).find((e) => e.action === 'create'));
  assert.equal(created.path, `msgs/${made.results[0].id}`);
  assert.equal(created.data.text, 'across');
  // And back: a write on the second replica reaches a subscriber on the first.
  const subA = (await a.call({ type: 'subscribe', path: 'msgs' })).subscriptionId;
  await waitFor('ready A', () => changes(a, subA).find((e) => e.action === 'ready'));
  await b.tx([{ type: 'update', path: `msgs/${made.results[0].id}`, data: { text: 'back' } }]);
  const upd = await waitFor('cross-replica update', () => changes(a, subA).find((e) => e.action === 'update'));
  assert.equal(upd.data.text, 'back');
  await Promise.all([a.close(), b.close()]);
});

test('the all-in-one binary serves the real-time database too', async () => {
  const one = new Cluster({}, { allInOne: true });
  await one.start();
  try {
    const t = one.createTenant('rosa.rtdb.test');
    const token = await one.login(t);
    const r = await one.api(t.idTag, 'POST', '/api/files', { token, body: { fileTp: 'RTDB', fileName: 'One' } });
    assert.equal(r.status, 201, r.text);
    const open = (tok) => connect(t.idTag, r.json.data.fileId, { token: tok, port: one.ports.http });
    const a = await opened(open(token));
    const b = await opened(open(token));
    const sid = (await b.call({ type: 'subscribe', path: 'x' })).subscriptionId;
    await waitFor('ready', () => changes(b, sid).find((e) => e.action === 'ready'));
    await a.tx([{ type: 'create', path: 'x', data: { v: 1 } }]);
    const created = await waitFor('create', () => changes(b, sid).find((e) => e.action === 'create'));
    assert.equal(created.data.v, 1);
    assert.equal((await open(undefined).closedP).code, 4403);
    await Promise.all([a.close(), b.close()]);
  } finally {
    await one.stop();
  }
});
