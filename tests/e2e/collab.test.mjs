// Live documents /ws/crdt/{docId} (PROTOCOL §5) on the split cluster, driven with the
// real `yjs` and `y-protocols` packages as y-websocket drives them: SyncStep1 on open,
// updates both ways, awareness. Two clients converge, a late joiner gets the state,
// offline edits merge, read-only access cannot write, tenants stay apart, hostile
// frames close the socket without harm, and two collab replicas behind two gateways
// serve one document, also when one of them is killed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import * as Y from 'yjs';
import * as syncProtocol from 'y-protocols/sync';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';
import { Cluster } from './cluster.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const c = new Cluster({ CLOUDILLO_CRDT_EVICT_MS: '300' });
let alice, bob, aliceToken, bobToken;

before(async () => {
  await c.start();
  alice = c.createTenant('alice.crdt.test');
  bob = c.createTenant('bob.crdt.test');
  aliceToken = await c.login(alice);
  bobToken = await c.login(bob);
});
after(async () => {
  const codes = await c.stop();
  void codes;
});

async function newDoc(tenant, token, name = 'Doc') {
  const r = await c.api(tenant.idTag, 'POST', '/api/files', { token, body: { fileTp: 'CRDT', fileName: name } });
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

// A y-websocket-like client: sends SyncStep1 on open, answers the server's sync
// messages, sends local updates, applies awareness.
function connect(idTag, docId, { token, access, port = c.ports.http, doc = new Y.Doc() } = {}) {
  const q = new URLSearchParams();
  if (token) q.set('token', token);
  if (access) q.set('access', access);
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/crdt/${encodeURIComponent(docId)}?${q}`, {
    headers: { Host: `cl-o.${idTag}`, 'X-Forwarded-For': c.clientIp },
    maxPayload: 16 << 20,
  });
  const awareness = new awarenessProtocol.Awareness(doc);
  const s = { ws, doc, awareness, synced: false, closed: null, opened: false, received: 0, awarenessSeen: [] };
  const send = (buf) => { if (ws.readyState === WebSocket.OPEN) ws.send(buf); };
  const onUpdate = (update, origin) => {
    if (origin === s) return;
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, 0);
    syncProtocol.writeUpdate(e, update);
    send(encoding.toUint8Array(e));
  };
  doc.on('update', onUpdate);
  // The Awareness' own timer would keep the test process alive.
  s.detach = () => { doc.off('update', onUpdate); awareness.destroy(); };
  s.ready = new Promise((resolve) => {
    ws.on('open', () => {
      s.opened = true;
      const e = encoding.createEncoder();
      encoding.writeVarUint(e, 0);
      syncProtocol.writeSyncStep1(e, doc);
      send(encoding.toUint8Array(e));
      resolve();
    });
    ws.on('close', (code, reason) => { s.closed = { code, reason: reason.toString() }; s.detach(); resolve(); });
    ws.on('error', () => resolve());
  });
  ws.on('message', (data) => {
    s.received++;
    const d = decoding.createDecoder(new Uint8Array(data));
    const type = decoding.readVarUint(d);
    if (type === 0) {
      const e = encoding.createEncoder();
      encoding.writeVarUint(e, 0);
      const sub = syncProtocol.readSyncMessage(d, e, doc, s);
      if (sub === syncProtocol.messageYjsSyncStep2) s.synced = true;
      if (encoding.length(e) > 1) send(encoding.toUint8Array(e));
    } else if (type === 1) {
      const u = decoding.readVarUint8Array(d);
      const d2 = decoding.createDecoder(u);
      const n = decoding.readVarUint(d2);
      for (let i = 0; i < n; i++) {
        const client = decoding.readVarUint(d2);
        const clock = decoding.readVarUint(d2);
        s.awarenessSeen.push({ client, clock, state: JSON.parse(decoding.readVarString(d2)) });
      }
      awarenessProtocol.applyAwarenessUpdate(awareness, u, s);
    }
  });
  s.closedP = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  s.close = async () => { if (!s.closed) { ws.close(); await s.closedP; } };
  return s;
}

async function opened(s) {
  await s.ready;
  assert.ok(s.opened, `socket not opened (${JSON.stringify(s.closed)})`);
  await waitFor('sync', () => s.synced);
  return s;
}

const text = (s) => s.doc.getText('t').toString();

test('two clients converge; the document starts with meta.i; a late joiner gets the state', async () => {
  const id = await newDoc(alice, aliceToken);
  const a = await opened(connect(alice.idTag, id, { token: aliceToken }));
  const b = await opened(connect(alice.idTag, id, { token: aliceToken }));
  assert.equal(a.doc.getMap('meta').get('i'), true);
  a.doc.getText('t').insert(0, 'hello ');
  b.doc.getText('t').insert(0, 'world ');
  await waitFor('convergence', () => text(a).length === 12 && text(a) === text(b));
  // Concurrent edits from both sides at once.
  for (let i = 0; i < 20; i++) {
    a.doc.getText('t').insert(0, 'a');
    b.doc.getText('t').insert(text(b).length, 'b');
  }
  await waitFor('convergence after bursts', () => text(a).length === 52 && text(a) === text(b));
  await a.close();
  await b.close();
  const late = await opened(connect(alice.idTag, id, { token: aliceToken }));
  await waitFor('late joiner state', () => text(late).length === 52);
  assert.equal(late.doc.getMap('meta').get('i'), true);
  await late.close();
});

test('offline edits are merged on reconnect', async () => {
  const id = await newDoc(alice, aliceToken);
  const doc = new Y.Doc();
  const a = await opened(connect(alice.idTag, id, { token: aliceToken, doc }));
  const b = await opened(connect(alice.idTag, id, { token: aliceToken }));
  doc.getText('t').insert(0, 'online ');
  await waitFor('online edit', () => text(b) === 'online ');
  await a.close();
  doc.getText('t').insert(7, 'offline');  // while disconnected
  b.doc.getText('t').insert(0, '>');
  const a2 = await opened(connect(alice.idTag, id, { token: aliceToken, doc }));
  await waitFor('merge', () => text(a2) === text(b) && text(b).includes('offline') && text(b).startsWith('>'));
  await a2.close();
  await b.close();
});

test('awareness: identity stamped, other clients ids refused, removal on disconnect', async () => {
  const id = await newDoc(alice, aliceToken);
  const a = await opened(connect(alice.idTag, id, { token: aliceToken }));
  const b = await opened(connect(alice.idTag, id, { token: aliceToken }));
  a.awareness.setLocalState({ user: { name: 'A', idTag: 'ceo.example' } });
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, 1);
  encoding.writeVarUint8Array(e, awarenessProtocol.encodeAwarenessUpdate(a.awareness, [a.doc.clientID]));
  a.ws.send(encoding.toUint8Array(e));
  const seen = await waitFor('awareness at b', () => b.awarenessSeen.find((x) => x.client === a.doc.clientID && x.state));
  assert.equal(seen.state.user.idTag, alice.idTag);
  // b claims a's client id: dropped.
  const forged = encoding.createEncoder();
  encoding.writeVarUint(forged, 1);
  const inner = encoding.createEncoder();
  encoding.writeVarUint(inner, 1);
  encoding.writeVarUint(inner, a.doc.clientID);
  encoding.writeVarUint(inner, 99);
  encoding.writeVarString(inner, JSON.stringify({ user: { name: 'forged' } }));
  encoding.writeVarUint8Array(forged, encoding.toUint8Array(inner));
  b.ws.send(encoding.toUint8Array(forged));
  await sleep(300);
  assert.ok(!a.awarenessSeen.some((x) => x.state && x.state.user && x.state.user.name === 'forged'));
  await a.close();
  await waitFor('removal', () => b.awarenessSeen.find((x) => x.client === a.doc.clientID && x.state === null));
  await b.close();
});

test('read-only access cannot write; write without permission is 4403', async () => {
  const id = await newDoc(alice, aliceToken);
  const w = await opened(connect(alice.idTag, id, { token: aliceToken }));
  w.doc.getText('t').insert(0, 'base');
  const r = await opened(connect(alice.idTag, id, { token: aliceToken, access: 'read' }));
  await waitFor('reader sees base', () => text(r) === 'base');
  r.doc.getText('t').insert(0, 'EVIL');
  await sleep(400);
  assert.equal(text(w), 'base');
  // A file token with R: readable, never writable.
  const tok = await c.api(alice.idTag, 'GET', `/api/auth/access-token?scope=file:${id}:R`, { token: aliceToken });
  assert.equal(tok.status, 200, tok.text);
  const denied = connect(alice.idTag, id, { token: tok.json.data.token, access: 'write' });
  assert.equal((await denied.closedP).code, 4403);
  const ro = await opened(connect(alice.idTag, id, { token: tok.json.data.token }));
  ro.doc.getText('t').insert(0, 'EVIL');
  await sleep(300);
  assert.equal(text(w), 'base');
  // A guest on a private document.
  assert.equal((await connect(alice.idTag, id, {}).closedP).code, 4403);
  await Promise.all([w.close(), r.close(), ro.close()]);
  const check = await opened(connect(alice.idTag, id, { token: aliceToken }));
  assert.equal(text(check), 'base');
  await check.close();
});

test('tenant isolation: a token of one tenant never opens a document of another', async () => {
  const id = await newDoc(alice, aliceToken);
  // Bob's token on Alice's host is a guest there: 4403.
  assert.equal((await connect(alice.idTag, id, { token: bobToken }).closedP).code, 4403);
  // Alice's document id on Bob's host: not Bob's file.
  assert.equal((await connect(bob.idTag, id, { token: bobToken }).closedP).code, 4404);
  // Store documents are per tenant: the same name holds different content.
  const sa = await opened(connect(alice.idTag, 's~notes', { token: aliceToken }));
  sa.doc.getText('t').insert(0, 'alice only');
  await sleep(200);
  const sb = await opened(connect(bob.idTag, 's~notes', { token: bobToken }));
  assert.equal(text(sb), '');
  assert.equal(sb.doc.getMap('meta').get('i'), true);
  await Promise.all([sa.close(), sb.close()]);
  assert.equal((await connect(alice.idTag, 's~Bad!', { token: aliceToken }).closedP).code, 4400);
  assert.equal((await connect(alice.idTag, 'nosuchfile123456789012', { token: aliceToken }).closedP).code, 4404);
});

test('hostile frames close the socket; the stored document is undamaged', async () => {
  const id = await newDoc(alice, aliceToken);
  const w = await opened(connect(alice.idTag, id, { token: aliceToken }));
  w.doc.getText('t').insert(0, 'intact');
  await waitFor('echo', () => w.received >= 3);
  await w.close();
  const hostile = [
    Buffer.from([0, 0, 0xff]),                       // truncated varint
    Buffer.from([0, 2, 0xff, 0xff, 0xff, 0xff, 0x0f]),  // huge length
    Buffer.from([0, 2, 5, 1, 2, 3, 4, 5]),           // an update Yjs cannot read
    Buffer.from([1, 3, 0xff, 0xff, 0x7f]),           // awareness with a huge count
  ];
  const codes = [];
  for (const frame of hostile) {
    const s = await opened(connect(alice.idTag, id, { token: aliceToken }));
    s.detach();
    s.ws.send(frame);
    codes.push((await s.closedP).code);
  }
  assert.deepEqual(codes, [1002, 1002, 1007, 1002]);
  // Unknown message types are ignored: the socket stays.
  const s = await opened(connect(alice.idTag, id, { token: aliceToken }));
  s.ws.send(Buffer.from([3]));
  s.ws.send(Buffer.from([7, 1, 2]));
  await sleep(200);
  assert.equal(s.closed, null);
  assert.equal(text(s), 'intact');
  await s.close();
  assert.ok(c.procs.collab.exitCode === null, 'collab still running');
});

test('two replicas behind two gateways converge; a killed replica loses nothing acknowledged', async () => {
  const port2 = await c.startSecondCollab();
  const id = await newDoc(alice, aliceToken);
  const a = await opened(connect(alice.idTag, id, { token: aliceToken }));
  const b = await opened(connect(alice.idTag, id, { token: aliceToken, port: port2 }));
  a.doc.getText('t').insert(0, 'one ');
  b.doc.getText('t').insert(0, 'two ');
  await waitFor('cross-replica convergence', () => text(a).length === 8 && text(a) === text(b));
  for (let i = 0; i < 10; i++) {
    a.doc.getText('t').insert(0, 'x');
    b.doc.getText('t').insert(0, 'y');
  }
  await waitFor('burst convergence', () => text(a).length === 28 && text(a) === text(b));
  // Acknowledged (echoed) updates on replica 1, then it dies without a word.
  const echoed = a.received;
  a.doc.getText('t').insert(0, 'last ');
  await waitFor('echo of last', () => a.received > echoed && text(b).startsWith('last '));
  await c.kill('collab', 'SIGKILL');
  await a.closedP;
  // The client reconnects to the surviving replica with its own state.
  const a2 = await opened(connect(alice.idTag, id, { token: aliceToken, port: port2, doc: a.doc }));
  b.doc.getText('t').insert(0, 'after ');
  await waitFor('after failover', () => text(a2) === text(b) && text(b).startsWith('after last '));
  const fresh = await opened(connect(alice.idTag, id, { token: aliceToken, port: port2 }));
  await waitFor('fresh reader', () => text(fresh) === text(b));
  await Promise.all([a2.close(), b.close(), fresh.close()]);
});

test('the all-in-one binary serves live documents too', async () => {
  const one = new Cluster({}, { allInOne: true });
  await one.start();
  try {
    const t = one.createTenant('carol.crdt.test');
    const token = await one.login(t);
    const r = await one.api(t.idTag, 'POST', '/api/files', { token, body: { fileTp: 'CRDT', fileName: 'One' } });
    assert.equal(r.status, 201, r.text);
    const open = (tok) => connect(t.idTag, r.json.data.fileId, { token: tok, port: one.ports.http });
    const a = await opened(open(token));
    const b = await opened(open(token));
    a.doc.getText('t').insert(0, 'together');
    await waitFor('all-in-one convergence', () => text(b) === 'together');
    assert.equal((await open(undefined).closedP).code, 4403);
    await Promise.all([a.close(), b.close()]);
  } finally {
    await one.stop();
  }
});
