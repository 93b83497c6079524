// The notification bus /ws/bus (PROTOCOL §7) on the split cluster, driven with the
// `ws` npm client as the web client drives it: ?token= in the URL, JSON frames
// {id, cmd, data}, ACTION pushes for new actions on every gateway replica (Redis
// pub/sub), 4401 for a socket without a usable token.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { Cluster, freePort, request } from './cluster.mjs';

const build = process.env.CLOUDILLO_BUILD_DIR || path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../build');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const c = new Cluster();
let alice, bob, aliceToken, bobToken, gw2Port, gw2;

// A second gateway process on the same Redis and backends: a browser on another replica.
async function startSecondGateway() {
  const [httpPort, opsPort] = await Promise.all([freePort(), freePort()]);
  const fd = openSync(path.join(c.logDir, 'gateway2.log'), 'a');
  const p = spawn(path.join(build, 'services/gateway/cloudillo-gateway'), [`--ops-addr=127.0.0.1:${opsPort}`], {
    env: { ...c.envFor('gateway'), CLOUDILLO_HTTP_PORT: String(httpPort) },
    stdio: ['ignore', 'ignore', fd],
  });
  closeSync(fd);
  process.once('exit', () => { if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL'); });
  for (let i = 0; i < 150; i++) {
    const r = await request(opsPort, 'localhost', 'GET', '/readyz').catch(() => null);
    if (r && r.status === 200) return { p, port: httpPort };
    await sleep(100);
  }
  throw new Error(`second gateway not ready; logs in ${c.logDir}`);
}

before(async () => {
  await c.start();
  alice = c.createTenant('alice.bus.test');
  bob = c.createTenant('bob.bus.test');
  aliceToken = await c.login(alice);
  bobToken = await c.login(bob);
  ({ p: gw2, port: gw2Port } = await startSecondGateway());
});
after(async () => {
  if (gw2 && gw2.exitCode === null) {
    const exited = new Promise((r) => gw2.once('exit', r));
    gw2.kill('SIGTERM');
    await exited;
  }
  await c.stop();
});

// A socket to `idTag`'s bus on gateway `port`, with everything it receives recorded.
function connect(idTag, { token, port = c.ports.http } = {}) {
  const query = token === undefined ? '' : `?token=${encodeURIComponent(token)}`;
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/bus${query}`, {
    headers: { Host: `cl-o.${idTag}`, 'X-Forwarded-For': c.clientIp },
    maxPayload: 4 << 20,
  });
  const s = { ws, frames: [], closed: null, opened: false, error: null, response: null };
  s.ready = new Promise((resolve) => {
    ws.on('open', () => { s.opened = true; resolve(); });
    ws.on('close', (code, reason) => { s.closed = { code, reason: reason.toString() }; resolve(); });
    ws.on('error', (e) => { s.error = e; resolve(); });
    ws.on('unexpected-response', (req, res) => { s.response = res.statusCode; resolve(); res.resume(); });
  });
  ws.on('message', (data, isBinary) => {
    s.frames.push(isBinary ? { binary: data } : JSON.parse(data.toString()));
  });
  s.closedP = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  return s;
}

async function waitFor(what, fn, ms = 3000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function withTimeout(p, ms, what) {
  return Promise.race([p, sleep(ms).then(() => { throw new Error(`timed out: ${what}`); })]);
}

test("the owner's socket answers ping with pong and other commands with ok", async () => {
  const s = connect(alice.idTag, { token: aliceToken });
  await s.ready;
  assert.ok(s.opened, JSON.stringify({ closed: s.closed, response: s.response, error: String(s.error) }));
  s.ws.send(JSON.stringify({ id: 'p1', cmd: 'ping' }));
  s.ws.send(JSON.stringify({ id: 'p2', cmd: 'typing', data: { to: 'x' } }));
  await waitFor('two acks', () => s.frames.length >= 2);
  assert.deepEqual(s.frames[0], { id: 'p1', cmd: 'ack', data: { status: 'pong' } });
  assert.deepEqual(s.frames[1], { id: 'p2', cmd: 'ack', data: { status: 'ok' } });
  // The field order the reference writes.
  s.ws.send(JSON.stringify({ id: 'p3', cmd: 'ping' }));
  const raw = await new Promise((resolve) => s.ws.once('message', (d) => resolve(d.toString())));
  assert.equal(raw, '{"id":"p3","cmd":"ack","data":{"status":"pong"}}');
  s.ws.close(1000);
  assert.equal((await s.closedP).code, 1000);
});

test('a new post arrives as an ACTION push within a second, on this and on a second gateway', async () => {
  const here = connect(alice.idTag, { token: aliceToken });
  const there = connect(alice.idTag, { token: aliceToken, port: gw2Port });
  const other = connect(bob.idTag, { token: bobToken });
  await Promise.all([here.ready, there.ready, other.ready]);
  assert.ok(here.opened && there.opened && other.opened);
  // Both sockets are registered once a ping went round trip.
  for (const s of [here, there, other]) s.ws.send(JSON.stringify({ id: 'warm', cmd: 'ping' }));
  await waitFor('warm-up acks', () => [here, there, other].every((s) => s.frames.length >= 1));
  const started = Date.now();
  const r = await c.api(alice.idTag, 'POST', '/api/actions', {
    token: aliceToken, body: { type: 'POST', subType: 'TEXT', content: 'hello bus', visibility: 'P' },
  });
  assert.equal(r.status, 201, r.text);
  const actionId = r.json.data.actionId;
  const find = (s) => s.frames.find((f) => f.cmd === 'ACTION' && f.data && f.data.actionId === actionId);
  const pushHere = await waitFor('push on the first gateway', () => find(here), 1000);
  const pushThere = await waitFor('push on the second gateway', () => find(there), 1000);
  assert.ok(Date.now() - started < 1500);
  for (const p of [pushHere, pushThere]) {
    assert.deepEqual(Object.keys(p), ['id', 'cmd', 'data']);
    assert.equal(typeof p.id, 'string');
    assert.ok(p.id.length >= 8);
    assert.equal(p.data.type, 'POST');
    assert.equal(p.data.content, 'hello bus');
    assert.equal(p.data.issuer.idTag, alice.idTag);
  }
  // Another tenant's socket never sees it.
  await sleep(200);
  assert.equal(other.frames.filter((f) => f.cmd === 'ACTION').length, 0);
  for (const s of [here, there, other]) s.ws.close();
  await Promise.all([here.closedP, there.closedP, other.closedP]);
});

test('no token, a bad token, a foreign token or a scoped token: accepted, then closed with 4401', async () => {
  const scoped = await c.api(alice.idTag, 'GET', '/api/auth/access-token?scope=file:f1~abc:W', { token: aliceToken });
  assert.equal(scoped.status, 200, scoped.text);
  for (const token of [undefined, 'not-a-jwt', bobToken, scoped.json.data.token, 'cl_' + 'A'.repeat(43)]) {
    const s = connect(alice.idTag, { token });
    const closed = await withTimeout(s.closedP, 3000, `close for ${String(token).slice(0, 12)}`);
    assert.ok(s.opened, `upgrade for ${String(token).slice(0, 12)}: ${s.response}`);
    assert.equal(closed.code, 4401, String(token).slice(0, 12));
    assert.equal(s.frames.length, 0);
  }
});

test("a visitor's token of this tenant (not the owner) is closed with 4403", async () => {
  const visitor = c.mintToken(alice.tnId, { iss: alice.idTag, sub: 'mallory.example', r: 'public,follower',
    exp: Math.floor(Date.now() / 1000) + 600 });
  const s = connect(alice.idTag, { token: visitor });
  const closed = await withTimeout(s.closedP, 3000, 'visitor close');
  assert.equal(closed.code, 4403);
  assert.equal(s.frames.length, 0);
});

test('hostile frames: binary and invalid JSON are ignored, an oversized text closes the socket; the services live', async () => {
  const s = connect(alice.idTag, { token: aliceToken });
  await s.ready;
  assert.ok(s.opened);
  s.ws.send(Buffer.from([0, 1, 2, 255]));
  s.ws.send('not json {');
  s.ws.send('[1,2,3]');
  s.ws.send(JSON.stringify({ id: 7, cmd: 'ping' }));
  s.ws.send('[['.repeat(5000));
  s.ws.send(JSON.stringify({ id: 'after', cmd: 'ping' }));
  await waitFor('the ack after the junk', () => s.frames.find((f) => f.id === 'after'));
  assert.equal(s.frames.length, 1);
  s.ws.send('x'.repeat(1 << 20));
  const closed = await withTimeout(s.closedP, 3000, 'close after 1 MiB');
  // Beast sends 1009 and tears the connection down without reading the rest of the
  // message, so the client may see the reset (1006) before the close frame.
  assert.ok([1009, 1006].includes(closed.code), String(closed.code));
  // A fresh socket still works, on both gateways.
  for (const port of [c.ports.http, gw2Port]) {
    const again = connect(alice.idTag, { token: aliceToken, port });
    await again.ready;
    assert.ok(again.opened);
    again.ws.send(JSON.stringify({ id: 'alive', cmd: 'ping' }));
    await waitFor('ack on a fresh socket', () => again.frames.find((f) => f.id === 'alive'));
    again.ws.close();
    await again.closedP;
  }
  assert.equal(c.procs.action.exitCode, null);
  assert.equal(c.procs.gateway.exitCode, null);
});

test('a plain GET on /ws/bus is refused in the envelope; the gauge counts open sockets', async () => {
  const r = await c.api(alice.idTag, 'GET', '/ws/bus', { token: aliceToken });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, 'E-VAL-INVALID');
  const s = connect(alice.idTag, { token: aliceToken });
  await s.ready;
  s.ws.send(JSON.stringify({ id: 'g', cmd: 'ping' }));
  await waitFor('ack', () => s.frames.length >= 1);
  const gauge = async () => {
    const m = await request(c.ports.opsX, 'localhost', 'GET', '/metrics');
    const line = m.text.split('\n').find((l) => l.startsWith('cloudillo_bus_connections'));
    return line ? Number(line.split(' ').pop()) : NaN;
  };
  assert.equal(await gauge(), 1);
  s.ws.close();
  await s.closedP;
  const end = Date.now() + 3000;
  while ((await gauge()) !== 0 && Date.now() < end) await sleep(50);
  assert.equal(await gauge(), 0);
});

// Last: it stops the action service.
test('SIGTERM on the action service closes its sockets with 1012 and it exits cleanly', async () => {
  const s = connect(alice.idTag, { token: aliceToken });
  await s.ready;
  assert.ok(s.opened);
  const exited = new Promise((resolve) => c.procs.action.once('exit', (code) => resolve(code)));
  c.procs.action.kill('SIGTERM');
  const closed = await withTimeout(s.closedP, 5000, 'close on SIGTERM');
  assert.equal(closed.code, 1012);  // service restart: the client reconnects with backoff
  assert.equal(await withTimeout(exited, 10000, 'action exit'), 0);
});
