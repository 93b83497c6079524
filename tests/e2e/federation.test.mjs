// Two independent clusters on loopback (two databases, two gateways), mapped to each
// other with CLOUDILLO_FEDERATION_MAP (PROTOCOL §13.10): alice on A connects with bob
// on B, posts with an attachment; bob comments and reacts; both sides list the right
// state (PROTOCOL §2.5–§2.11, E11, E24); a follower's node gets the pictures of a post of
// visibility F (§4.5, §4.6).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign as cryptoSign, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import WebSocket from 'ws';
import { Cluster, freePort, b64url } from './cluster.mjs';
import { png } from './files_helpers.mjs';

let A, B, alice, bob, aliceToken, bobToken;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function eventually(what, fn, ms = 15000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await fn();
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

before(async () => {
  const [portA, portB] = await Promise.all([freePort(), freePort()]);
  const map = `cl-o.alice.test=http://127.0.0.1:${portA},cl-o.bob.test=http://127.0.0.1:${portB},` +
    `cl-o.carol.test=http://127.0.0.1:${portA},cl-o.erin.test=http://127.0.0.1:${portA}`;
  A = new Cluster({ CLOUDILLO_HTTP_PORT: String(portA), CLOUDILLO_FEDERATION_MAP: map });
  B = new Cluster({ CLOUDILLO_HTTP_PORT: String(portB), CLOUDILLO_FEDERATION_MAP: map });
  await Promise.all([A.start(), B.start()]);
  // Usage counters in the shared Redis are keyed by tenant id, which starts at 1 in
  // every test database: give each side ids no other run uses.
  for (const c of [A, B]) {
    const start = 1_000_000_000 + Math.floor(Math.random() * 1_000_000_000);
    execFileSync('psql', ['-q', c.env.CLOUDILLO_DATABASE_URL, '-c', `ALTER SEQUENCE identity.tenants_tn_id_seq RESTART WITH ${start}`]);
  }
  alice = A.createTenant('alice.test');
  bob = B.createTenant('bob.test');
  [aliceToken, bobToken] = await Promise.all([A.login(alice), B.login(bob)]);
});

after(async () => {
  await Promise.all([A && A.stop(), B && B.stop()]);
});

test('an empty tenant lists no actions in the client shape (Appendix C.11)', async () => {
  const r = await A.api(alice.idTag, 'GET', '/api/actions', { token: aliceToken });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.data, []);
  assert.deepEqual(r.json.cursorPagination, { nextCursor: null, hasMore: false });
});

test('connect, accept, post with an attachment, comment and react across two clusters', async () => {
  // alice asks bob to connect.
  let r = await A.api(alice.idTag, 'POST', '/api/actions', {
    token: aliceToken, body: { type: 'CONN', audienceTag: 'bob.test', content: 'Hi Bob' },
  });
  assert.equal(r.status, 201, r.text);
  assert.match(r.json.data.actionId, /^a1~[A-Za-z0-9_-]{43}$/);
  assert.equal(r.json.data.visibility, 'F');  // E10
  const connId = r.json.data.actionId;

  // bob's node verifies it against alice's published key and lets it wait for bob.
  const pending = await eventually('CONN at bob', async () =>
    (await list(B, bob, bobToken, '?type=CONN')).find((a) => a.actionId === connId));
  assert.equal(pending.status, 'C');
  assert.equal(pending.issuer.idTag, 'alice.test');
  assert.equal(pending.content, 'Hi Bob');

  r = await B.api(bob.idTag, 'POST', `/api/actions/${encodeURIComponent(connId)}/accept`, { token: bobToken });
  assert.equal(r.status, 200, r.text);

  // alice's node honours the CONN:ACC: both sides are connected.
  await eventually('alice connected', async () => {
    const p = await A.api(alice.idTag, 'GET', '/api/profiles/bob.test', { token: aliceToken });
    return p.status === 200 && p.json.data && p.json.data.connected === true;
  });
  const bobView = await B.api(bob.idTag, 'GET', '/api/profiles/alice.test', { token: bobToken });
  assert.equal(bobView.json.data.connected, true);

  // A post with two attachments goes to bob as a follower: a public file alice uploaded,
  // which bob's node fetches, verifies and keeps (§2.8 step 11, §4.6), and a reference
  // to a file alice's node does not have, which stays a reference.
  const bytes = randomBytes(3000);
  r = await A.api(alice.idTag, 'POST', '/api/files/file/note.bin?visibility=P',
    { token: aliceToken, raw: bytes, headers: { 'Content-Type': 'application/octet-stream' } });
  assert.ok(r.status === 200 || r.status === 201, r.text);
  const fileId = r.json.data.fileId;
  const missing = 'f1~Qo2E3G8TJZ2HTGhVlrtTDBpvBGOp6gfGhq4QmD6Z46w';
  r = await B.api(bob.idTag, 'GET', `/api/files/${fileId}`, { token: bobToken });
  assert.equal(r.status, 404, 'bob\'s node does not hold the file before the post');
  r = await A.api(alice.idTag, 'POST', '/api/actions', {
    token: aliceToken,
    body: { type: 'POST', subType: 'TEXT', content: 'Hello from A', attachments: [fileId, missing] },
  });
  assert.equal(r.status, 201, r.text);
  const postId = r.json.data.actionId;
  const post = await eventually('POST at bob', async () =>
    (await list(B, bob, bobToken, '?type=POST')).find((a) => a.actionId === postId));
  assert.equal(post.content, 'Hello from A');
  assert.deepEqual(post.attachments.map((a) => a.fileId), [fileId, missing]);
  r = await B.api(bob.idTag, 'GET', `/api/files/${fileId}`, { token: bobToken });
  assert.equal(r.status, 200, r.text);
  assert.ok(Buffer.compare(r.bytes, bytes) === 0, 'the fetched copy has alice\'s bytes');

  // bob comments and reacts on alice's post; alice's node owns the counters.
  r = await B.api(bob.idTag, 'POST', '/api/actions', {
    token: bobToken, body: { type: 'CMNT', parentId: postId, audienceTag: 'alice.test', content: 'Nice!' },
  });
  assert.equal(r.status, 201, r.text);
  r = await B.api(bob.idTag, 'POST', '/api/actions', {
    token: bobToken, body: { type: 'REACT', subType: 'LIKE', subject: postId, audienceTag: 'alice.test' },
  });
  assert.equal(r.status, 201, r.text);

  const counted = await eventually('counters at alice', async () => {
    const a = (await list(A, alice, aliceToken, '?type=POST')).find((x) => x.actionId === postId);
    return a && a.stat.commentCount === 1 && a.stat.reactions === '1,L1' ? a : null;
  });
  assert.equal(counted.stat.commentCount, 1);
  const comments = await list(A, alice, aliceToken, `?type=CMNT&parentId=${encodeURIComponent(postId)}`);
  assert.equal(comments.length, 1);
  assert.equal(comments[0].issuer.idTag, 'bob.test');
  assert.equal(comments[0].content, 'Nice!');

  // alice's STAT reaches bob, whose copy of the post shows the owner's counters.
  await eventually('STAT at bob', async () => {
    const a = (await list(B, bob, bobToken, '?type=POST')).find((x) => x.actionId === postId);
    return a && a.stat.commentCount === 1 && a.stat.reactions === '1,L1';
  });
});

// PROTOCOL §2.6, §4.5, §4.6: the pictures of a post of the default visibility F reach a
// follower's node. erin's node opens the direct file she attaches to F when she posts
// (the reference's upgrade_file_visibility) and lets bob's node, with the token it
// exchanged (sub = bob.test), read her F files because bob follows her.
test('a follower\'s node fetches the attachments of a post of the default visibility F', async () => {
  const erin = A.createTenant('erin.test');
  const erinToken = await A.login(erin);
  let r = await B.api(bob.idTag, 'POST', '/api/actions', {
    token: bobToken, body: { type: 'FLLW', audienceTag: 'erin.test' },
  });
  assert.equal(r.status, 201, r.text);
  await eventually('bob follows erin at erin\'s node', async () => {
    const p = await A.api(erin.idTag, 'GET', '/api/profiles/bob.test', { token: erinToken });
    return p.status === 200 && p.json.data && p.json.data.follower === true;
  });
  // Images: each has several variants, which bob's node fetches one by one by variant id.
  const upload = async (image, query) => {
    const u = await A.api(erin.idTag, 'POST', `/api/files/default/picture.png${query}`,
      { token: erinToken, raw: image, headers: { 'Content-Type': 'image/png' } });
    assert.ok(u.status === 200 || u.status === 201, u.text);
    return u.json.data.fileId;
  };
  const sharedId = await upload(png(600, 400, [10, 120, 200]), '?visibility=F');
  const directId = await upload(png(600, 400, [200, 120, 10]), '');
  r = await A.api(erin.idTag, 'GET', `/api/files/${sharedId}`);
  assert.equal(r.status, 403, 'a guest does not read an F file');

  r = await A.api(erin.idTag, 'POST', '/api/actions', {
    token: erinToken, body: { type: 'POST', subType: 'TEXT', content: 'Pictures', attachments: [sharedId, directId] },
  });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.data.visibility, 'F');  // E10
  const postId = r.json.data.actionId;
  r = await A.api(erin.idTag, 'GET', `/api/files/${directId}/metadata`, { token: erinToken });
  assert.equal(r.json.data.visibility, 'F', 'the attached direct file opened to the post\'s followers');
  r = await A.api(erin.idTag, 'GET', `/api/files/${directId}`);
  assert.equal(r.status, 403, 'and to nobody else');

  const post = await eventually('erin\'s POST at bob', async () =>
    (await list(B, bob, bobToken, '?type=POST')).find((a) => a.actionId === postId));
  assert.deepEqual(post.attachments.map((a) => a.fileId), [sharedId, directId]);
  for (const id of [sharedId, directId]) {
    r = await B.api(bob.idTag, 'GET', `/api/files/${id}/descriptor`, { token: bobToken });
    assert.equal(r.status, 200, `bob's node holds ${id}: ${r.text}`);
    const original = await A.api(erin.idTag, 'GET', `/api/files/${id}/descriptor`, { token: erinToken });
    assert.equal(r.json.data, original.json.data);
    r = await B.api(bob.idTag, 'GET', `/api/files/${id}`, { token: bobToken });
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers['content-type'], /^image\//);
    r = await B.api(bob.idTag, 'GET', `/api/files/${id}/metadata`, { token: bobToken });
    assert.equal(r.json.data.visibility, 'F', 'the copy keeps the post\'s visibility');
  }
});

// §13.8: presence reaches the audience on another node (the reference drops it) and is
// stored on neither side.
test('presence (PRES) reaches the other node\'s bus and is stored nowhere', async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${B.ports.http}/ws/bus?token=${encodeURIComponent(bobToken)}`, {
    headers: { Host: `cl-o.${bob.idTag}`, 'X-Forwarded-For': B.clientIp },
  });
  const frames = [];
  ws.on('message', (data) => frames.push(JSON.parse(data.toString())));
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  try {
    const subject = `a1~${'P'.repeat(43)}`;
    const r = await A.api(alice.idTag, 'POST', '/api/actions', {
      token: aliceToken, body: { type: 'PRES', subType: 'TYPING', subject, audienceTag: 'bob.test', content: { at: 1 } },
    });
    assert.equal(r.status, 201, r.text);
    const pushed = await eventually('PRES on bob\'s bus', async () =>
      frames.find((f) => f.cmd === 'ACTION' && f.data && f.data.type === 'PRES'));
    assert.equal(pushed.data.subType, 'TYPING');
    assert.equal(pushed.data.issuer.idTag, 'alice.test');
    assert.equal((await list(B, bob, bobToken, '?type=PRES')).length, 0);
    assert.equal((await list(A, alice, aliceToken, '?type=PRES')).length, 0);
  } finally {
    ws.close();
  }
});

test('federation traffic shows in each side\'s usage (admin API), per tenant', async () => {
  // `usage` prints the day's line: requests=N  fed_out=N (B bytes)  fed_in=N (B bytes).
  const today = (c, idTag) => {
    const line = c.admin('usage', idTag, '--days=1').split('\n')[1];
    const n = (re) => Number(re.exec(line)[1]);
    return { out: n(/fed_out=(\d+)/), outBytes: n(/fed_out=\d+ \((\d+) bytes/), in: n(/fed_in=(\d+)/), inBytes: n(/fed_in=\d+ \((\d+) bytes/) };
  };
  // The action services add their counts every 5 s.
  const a = await eventually('alice\'s deliveries in her usage', () => { const u = today(A, alice.idTag); return u.out > 0 && u.in > 0 && u; });
  assert.ok(a.outBytes > 100 * a.out, `bytes ${a.outBytes} for ${a.out} deliveries`);
  const b = await eventually('bob\'s deliveries in his usage', () => { const u = today(B, bob.idTag); return u.out > 0 && u.in > 0 && u; });
  assert.ok(b.inBytes > 100 * b.in);
  // dave, on alice's cluster, took part in nothing.
  A.createTenant('dave.test');
  assert.deepEqual(today(A, 'dave.test'), { out: 0, outBytes: 0, in: 0, inBytes: 0 });
});

test('forged tokens are answered 201 or 400 but never stored', async () => {
  const forger = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
  const iat = Math.floor(Date.now() / 1000);
  const sign = (header, payload, key) => {
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
    const sig = key ? cryptoSign('sha384', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }) : Buffer.alloc(0);
    return `${input}.${b64url(sig)}`;
  };
  const claims = { iss: 'alice.test', k: '000000', t: 'POST', c: `forged ${randomBytes(4).toString('hex')}`, iat };
  const forged = [
    sign({ typ: 'JWT', alg: 'ES384' }, claims, forger.privateKey),            // wrong key
    sign({ typ: 'JWT', alg: 'none' }, claims),                                 // alg none
    sign({ typ: 'JWT', alg: 'ES256' }, claims, forger.privateKey),            // another algorithm
  ];
  for (const token of forged) {
    const r = await B.api(bob.idTag, 'POST', '/api/inbox', { body: { token } });
    assert.ok(r.status === 201 || r.status === 400, `${r.status} ${r.text}`);
    assert.ok(r.json && ('data' in r.json || 'error' in r.json));
  }
  for (const body of [{}, { token: 5 }, { token: 'a.b' }, { token: 'x', related: 'y' }, { token: 'x.y.z', related: Array(9).fill('a') }]) {
    const r = await B.api(bob.idTag, 'POST', '/api/inbox', { body });
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.json.error.code, 'E-VAL-INVALID');
  }
  const bad = await B.api(bob.idTag, 'POST', '/api/inbox', { raw: Buffer.from('{"token":'), headers: { 'Content-Type': 'application/json' } });
  assert.equal(bad.status, 400);
  await sleep(1500);
  const posts = await list(B, bob, bobToken, '?type=POST');
  assert.ok(!posts.some((p) => p.content === claims.c), 'a forged post was stored');
});

test('a tenant of the same cluster sees none of another tenant\'s actions', async () => {
  const carol = A.createTenant('carol.test');
  const carolToken = await A.login(carol);
  const mine = await list(A, carol, carolToken);
  assert.deepEqual(mine, []);
  // alice's token is not valid on carol's host: the public listing degrades to a
  // guest's view (E18), which holds none of alice's actions.
  const r = await A.api(carol.idTag, 'GET', '/api/actions', { token: aliceToken });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.data, []);
  const create = await A.api(carol.idTag, 'POST', '/api/actions', { token: aliceToken, body: { type: 'POST', content: 'x' } });
  assert.equal(create.status, 401);
  const guest = await A.api(carol.idTag, 'GET', '/api/actions');
  assert.deepEqual(guest.json.data, []);
  const post = (await list(A, alice, aliceToken, '?type=POST'))[0];
  const other = await A.api(carol.idTag, 'GET', `/api/actions/${encodeURIComponent(post.actionId)}`, { token: carolToken });
  assert.equal(other.status, 404);
});
