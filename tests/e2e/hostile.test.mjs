// Hostile input gets the error envelope with the right status, never a crash.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import net from 'node:net';
import { Cluster, b64url, request } from './cluster.mjs';

const c = new Cluster({ CLOUDILLO_MAX_BODY_BYTES: '65536' });
let alice, token;
before(async () => {
  await c.start();
  alice = c.createTenant('alice.hostile.test');
  token = await c.login(alice);
});
after(() => c.stop());

function envelope(r, status, code) {
  assert.equal(r.status, status, r.text);
  assert.equal(r.json.error.code, code, r.text);
  assert.equal(typeof r.json.error.message, 'string');
}

function jwt(header, payload, key) {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  const sig = key ? b64url(createHmac('sha256', key).update(input).digest()) : '';
  return `${input}.${sig}`;
}

test('malformed JSON, wrong shapes, bad UTF-8 and wrong content types', async () => {
  const bodies = ['{', '[]', '"x"', '{"name":', '{"name":"\xff"}', '{"a":1}}', '['.repeat(5000)];
  for (const raw of bodies) {
    const r = await c.api(alice.idTag, 'PATCH', '/api/me', { token, raw: Buffer.from(raw, 'latin1') });
    envelope(r, 400, 'E-VAL-INVALID');
  }
  const badUtf8 = Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]);
  envelope(await c.api(alice.idTag, 'PATCH', '/api/me', { token, raw: badUtf8 }), 400, 'E-VAL-INVALID');
  const login = await c.api(alice.idTag, 'POST', '/api/auth/login', { raw: Buffer.from('idTag=x'), headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
  envelope(login, 415, 'E-VAL-INVALID');
  envelope(await c.api(alice.idTag, 'POST', '/api/auth/login', { body: { idTag: 5, password: [] } }), 400, 'E-VAL-INVALID');
  envelope(await c.api(alice.idTag, 'GET', '/api/profiles?q=%zz', { token }), 400, 'E-VAL-INVALID');
  // Escapes that decode to invalid UTF-8 are refused before any service sees them.
  envelope(await c.api(alice.idTag, 'GET', '/api/profiles/%ff%fe', { token }), 400, 'E-VAL-INVALID');
  envelope(await c.api(alice.idTag, 'GET', '/api/settings/ui.%ff', { token }), 400, 'E-VAL-INVALID');
  envelope(await c.api(alice.idTag, 'GET', '/api/settings/ui.a%20b', { token }), 404, 'E-CORE-NOTFOUND');
});

test('bodies over the limit get 413 before they are read', async () => {
  const big = Buffer.alloc(70000, 'a');
  envelope(await c.api(alice.idTag, 'PATCH', '/api/me', { token, raw: big }), 413, 'E-VAL-INVALID');
  // Declared but never sent: the answer must not wait for the body.
  const answer = await new Promise((resolve, reject) => {
    const s = net.connect(c.ports.http, '127.0.0.1', () => {
      s.write(`POST /api/auth/login HTTP/1.1\r\nHost: cl-o.${alice.idTag}\r\nContent-Type: application/json\r\nContent-Length: 99999999\r\n\r\n`);
    });
    let out = '';
    s.on('data', (d) => { out += d; });
    s.on('end', () => resolve(out));
    s.on('error', reject);
    setTimeout(() => { s.destroy(); resolve(out); }, 3000);
  });
  assert.match(answer, /^HTTP\/1\.1 413/);
  assert.match(answer, /"E-VAL-INVALID"/);
});

test('unknown and invalid hosts, unknown routes and wrong methods', async () => {
  envelope(await c.api('x', 'GET', '/api/me', { host: 'cl-o.bad_name.test' }), 400, 'E-VAL-INVALID');
  envelope(await c.api('x', 'GET', '/api/me', { host: 'cl-o.unknown.hostile.test' }), 403, 'E-AUTH-NOPERM');
  envelope(await c.api('x', 'GET', '/', { host: 'unknown.hostile.test' }), 404, 'E-CORE-NOTFOUND');
  envelope(await c.api(alice.idTag, 'GET', '/api/nothing/here'), 404, 'E-CORE-NOTFOUND');
  envelope(await c.api(alice.idTag, 'DELETE', '/api/me'), 405, 'E-VAL-INVALID');
});

test('tokens: alg none, wrong algorithm, bad signature, expired, another tenant, garbage', async () => {
  const now = Math.floor(Date.now() / 1000);
  const { kid, secret } = c.tokenSecret(alice.tnId);
  const claims = { iss: alice.idTag, sub: alice.idTag, r: 'leader', exp: now + 600 };
  const cases = {
    algNone: jwt({ typ: 'JWT', alg: 'none' }, claims, null),
    wrongAlg: jwt({ typ: 'JWT', alg: 'HS512', kid }, claims, secret),
    es384: jwt({ typ: 'JWT', alg: 'ES384', kid }, claims, secret),
    badSignature: jwt({ typ: 'JWT', alg: 'HS256', kid }, claims, 'not-the-secret'),
    expired: jwt({ typ: 'JWT', alg: 'HS256', kid }, { ...claims, exp: now - 120 }, secret),
    otherTenant: jwt({ typ: 'JWT', alg: 'HS256', kid }, { ...claims, iss: 'bob.hostile.test' }, secret),
    noExp: jwt({ typ: 'JWT', alg: 'HS256', kid }, { iss: alice.idTag }, secret),
    unknownKid: jwt({ typ: 'JWT', alg: 'HS256', kid: 'nope' }, claims, secret),
    garbage: 'a.b.c',
    notJwt: 'hello',
  };
  // The well-formed control token is accepted, so the failures below are meaningful.
  const good = jwt({ typ: 'JWT', alg: 'HS256', kid }, claims, secret);
  assert.equal((await c.api(alice.idTag, 'GET', '/api/settings', { token: good })).status, 200);
  for (const [name, t] of Object.entries(cases)) {
    const r = await c.api(alice.idTag, 'GET', '/api/settings', { token: t });
    envelope(r, 401, 'E-AUTH-UNAUTH');
    // On an optional-auth route the same token degrades to a guest.
    const full = await c.api(alice.idTag, 'GET', '/api/me/full', { token: t });
    assert.equal(full.status, 200, name);
  }
  envelope(await c.api(alice.idTag, 'GET', '/api/settings', { headers: { Authorization: `bearer ${good}` } }), 403, 'E-AUTH-NOPERM');
  envelope(await c.api(alice.idTag, 'GET', '/api/settings'), 403, 'E-AUTH-NOPERM');
  envelope(await c.api(alice.idTag, 'GET', `/api/settings?token=${good}`), 403, 'E-AUTH-NOPERM');
  envelope(await c.api(alice.idTag, 'GET', '/api/settings', { token: 'cl_forged' }), 403, 'E-AUTH-NOPERM');
});

test('raw protocol garbage gets 400 and the server keeps serving', async () => {
  for (const raw of ['GARBAGE\r\n\r\n', 'GET /api/me HTTP/1.1\r\n\r\n', 'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n', `GET /${'a'.repeat(20000)} HTTP/1.1\r\n\r\n`]) {
    const out = await new Promise((resolve) => {
      const s = net.connect(c.ports.http, '127.0.0.1', () => s.write(raw));
      let o = '';
      s.on('data', (d) => { o += d; });
      s.on('end', () => resolve(o));
      s.on('error', () => resolve(o));
      setTimeout(() => { s.destroy(); resolve(o); }, 3000);
    });
    assert.match(out, /^HTTP\/1\.1 4(00|31)/);
  }
  assert.equal((await c.api(alice.idTag, 'GET', '/api/me')).status, 200);
});

// Sends raw bytes on one connection and collects the answer until the server closes.
function raw(bytes) {
  return new Promise((resolve) => {
    const s = net.connect(c.ports.http, '127.0.0.1', () => s.write(bytes));
    let o = '';
    s.on('data', (d) => { o += d; });
    s.on('end', () => resolve(o));
    s.on('error', () => resolve(o));
    setTimeout(() => { s.destroy(); resolve(o); }, 3000);
  });
}

test('ambiguous framing is refused and nothing smuggled behind it is served (RFC 9112)', async () => {
  const host = `cl-o.${alice.idTag}`;
  const smuggled = `GET /api/me HTTP/1.1\r\nHost: ${host}\r\nX-Request-ID: smuggled\r\n\r\n`;
  const heads = [
    `GET /api/me HTTP/1.1\r\nHost: ${host}\r\nHost: cl-o.other.test\r\n\r\n`,
    `POST /api/auth/login HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: xchunked\r\nContent-Type: application/json\r\n\r\n2\r\n{}\r\n0\r\n\r\n`,
    `POST /api/auth/login HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    `POST /api/auth/login HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    `GET /api/me HTTP/1.1\r\nHost: ${host}\r\nX-Folded: a\r\n b\r\n\r\n`,
  ];
  for (const head of heads) {
    const out = await raw(head + smuggled);
    assert.match(out, /^HTTP\/1\.1 400/, head);
    assert.match(out, /"E-VAL-INVALID"/);
    assert.equal(out.split('HTTP/1.1 ').length - 1, 1, `a second answer came back for: ${head}`);
    assert.doesNotMatch(out, /smuggled/);
  }
  let many = `GET /api/me HTTP/1.1\r\nHost: ${host}\r\n`;
  for (let i = 0; i < 1000; i++) many += `X-${i}: v\r\n`;
  assert.match(await raw(`${many}\r\n`), /^HTTP\/1\.1 431/);
});

test('hostile methods, paths and hosts add no metric series', async () => {
  const series = async () => (await request(c.ports.opsG, 'localhost', 'GET', '/metrics')).text
    .split('\n').filter((l) => l.startsWith('cloudillo_http')).length;
  const flood = async (n) => {
    for (let i = 0; i < n; i++) {
      const tag = `${n}x${i}`;
      await raw(`M${'E'.repeat(200 + i)}${tag} /x${tag} HTTP/1.1\r\nHost: cl-o.${alice.idTag}\r\nConnection: close\r\n\r\n`);
      await c.api(alice.idTag, 'GET', `/api/zz${tag}/${tag}`);
      await c.api('x', 'GET', `/${tag}`, { host: `cl-o.made-up-${tag}.test` });
      await c.api('x', 'GET', `/${tag}`, { host: `bad_${tag}!` });
    }
  };
  await flood(3);  // every kind once: its series exist now
  const before = await series();
  await flood(40);
  assert.equal(await series(), before);
  const text = (await request(c.ports.opsG, 'localhost', 'GET', '/metrics')).text;
  assert.doesNotMatch(text, /EEEE|zz40x|made-up/);
});
