// Passkeys (PROTOCOL §3.7) through the gateway, with a software authenticator written
// here on node:crypto: it answers the options as a browser and @simplewebauthn/browser
// would (base64url fields, CBOR attestation object), for ES256, EdDSA and RS256 keys.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { Cluster } from './cluster.mjs';

const c = new Cluster({ CLOUDILLO_RATE_AUTH: '1000/1000,100000/100000,1000/1000,100000/100000' });
let alice, bob, token;
before(async () => {
  await c.start();
  alice = c.createTenant('alice.wa.test');
  bob = c.createTenant('bob.wa.test');
  token = await c.login(alice);
});
after(() => c.stop());

// --- a minimal CBOR writer (definite lengths, as CTAP2 encodes) ---------------------
function head(major, n) {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 0x100) return Buffer.from([(major << 5) | 24, n]);
  if (n < 0x10000) return Buffer.from([(major << 5) | 25, n >> 8, n & 0xff]);
  const b = Buffer.alloc(5);
  b[0] = (major << 5) | 26;
  b.writeUInt32BE(n, 1);
  return b;
}
function cbor(v) {
  if (typeof v === 'number') return v >= 0 ? head(0, v) : head(1, -1 - v);
  if (typeof v === 'string') return Buffer.concat([head(3, Buffer.byteLength(v)), Buffer.from(v)]);
  if (Buffer.isBuffer(v)) return Buffer.concat([head(2, v.length), v]);
  if (Array.isArray(v)) return Buffer.concat([head(4, v.length), ...v.map(cbor)]);
  if (v instanceof Map) return Buffer.concat([head(5, v.size), ...[...v].flatMap(([k, x]) => [cbor(k), cbor(x)])]);
  throw new Error('cannot encode');
}

const b64u = (buf) => Buffer.from(buf).toString('base64url');
const sha256 = (b) => createHash('sha256').update(b).digest();

class Authenticator {
  constructor(alg) {
    this.alg = alg;
    this.credentialId = randomBytes(16);
    this.counter = 0;
    if (alg === -7) this.keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    else if (alg === -8) this.keys = generateKeyPairSync('ed25519');
    else this.keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  }

  coseKey() {
    const jwk = this.keys.publicKey.export({ format: 'jwk' });
    const d = (s) => Buffer.from(s, 'base64url');
    if (this.alg === -7) return new Map([[1, 2], [3, -7], [-1, 1], [-2, d(jwk.x)], [-3, d(jwk.y)]]);
    if (this.alg === -8) return new Map([[1, 1], [3, -8], [-1, 6], [-2, d(jwk.x)]]);
    return new Map([[1, 3], [3, -257], [-1, d(jwk.n)], [-2, d(jwk.e)]]);
  }

  sign(data) {
    return sign(this.alg === -8 ? null : 'sha256', data, this.keys.privateKey);
  }

  authData(rpId, { attested = false, counter = this.counter } = {}) {
    const count = Buffer.alloc(4);
    count.writeUInt32BE(counter);
    const parts = [sha256(rpId), Buffer.from([0x05 | (attested ? 0x40 : 0)]), count];
    if (attested) {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(this.credentialId.length);
      parts.push(Buffer.alloc(16), len, this.credentialId, cbor(this.coseKey()));
    }
    return Buffer.concat(parts);
  }

  // navigator.credentials.create() as serialized by @simplewebauthn/browser.
  create(options, { fmt = 'none', origin = `https://${options.rp.id}`, rpId = options.rp.id } = {}) {
    const clientData = Buffer.from(JSON.stringify({ type: 'webauthn.create', challenge: options.challenge, origin, crossOrigin: false }));
    const authData = this.authData(rpId, { attested: true });
    const attStmt = fmt === 'packed'
      ? new Map([['alg', this.alg], ['sig', this.sign(Buffer.concat([authData, sha256(clientData)]))]])
      : new Map();
    const attestationObject = cbor(new Map([['fmt', fmt], ['attStmt', attStmt], ['authData', authData]]));
    return {
      id: b64u(this.credentialId), rawId: b64u(this.credentialId), type: 'public-key',
      response: { clientDataJSON: b64u(clientData), attestationObject: b64u(attestationObject), transports: ['internal'] },
      clientExtensionResults: {}, authenticatorAttachment: 'platform',
    };
  }

  // navigator.credentials.get(); the counter moves unless the test pins one.
  get(options, { origin = `https://${options.rpId}`, rpId = options.rpId, counter } = {}) {
    if (counter === undefined) counter = ++this.counter;
    const clientData = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge: options.challenge, origin, crossOrigin: false }));
    const authData = this.authData(rpId, { counter });
    return {
      id: b64u(this.credentialId), rawId: b64u(this.credentialId), type: 'public-key',
      response: {
        clientDataJSON: b64u(clientData), authenticatorData: b64u(authData),
        signature: b64u(this.sign(Buffer.concat([authData, sha256(clientData)]))),
      },
      clientExtensionResults: {},
    };
  }
}

const api = (method, path, opts) => c.api(alice.idTag, method, path, opts);
const es256 = new Authenticator(-7);
const ed25519 = new Authenticator(-8);
const rs256 = new Authenticator(-257);

async function register(auth, fmt, description) {
  const ch = await api('GET', '/api/auth/wa/reg/challenge', { token });
  assert.equal(ch.status, 200, ch.text);
  const body = { token: ch.json.data.token, response: auth.create(ch.json.data.options, { fmt }) };
  if (description) body.description = description;
  return api('POST', '/api/auth/wa/reg', { token, body });
}

async function loginChallenge() {
  const r = await api('GET', '/api/auth/wa/login/challenge');
  assert.equal(r.status, 200, r.text);
  return r.json.data;
}

test('without passkeys: login-init has webAuthn null and the login challenge is 404', async () => {
  const init = await api('POST', '/api/auth/login-init', { body: {} });
  assert.equal(init.status, 200);
  assert.equal(init.json.data.webAuthn, null);
  assert.equal((await api('GET', '/api/auth/wa/login/challenge')).status, 404);
});

test('registration is the owner\'s: no token, another tenant\'s token or an API key is refused', async () => {
  assert.ok([401, 403].includes((await api('GET', '/api/auth/wa/reg/challenge')).status));
  assert.ok([401, 403].includes((await api('GET', '/api/auth/wa/reg')).status));
  const bobToken = await c.login(bob);
  assert.ok([401, 403].includes((await api('GET', '/api/auth/wa/reg/challenge', { token: bobToken })).status));
  const key = (await api('POST', '/api/auth/api-keys', { token, body: {} })).json.data.plaintextKey;
  assert.equal((await api('GET', '/api/auth/wa/reg/challenge', { token: key })).status, 403);
});

test('registration options have the shape @simplewebauthn/browser takes', async () => {
  const r = await api('GET', '/api/auth/wa/reg/challenge', { token });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(Object.keys(r.json.data), ['options', 'token']);
  const o = r.json.data.options;
  assert.deepEqual(o.rp, { name: alice.idTag, id: alice.idTag });
  assert.equal(o.user.name, alice.idTag);
  assert.equal(o.user.displayName, alice.idTag);
  assert.match(o.user.id, /^[A-Za-z0-9_-]+$/);
  assert.match(o.challenge, /^[A-Za-z0-9_-]{43}$/);
  assert.deepEqual(o.pubKeyCredParams.map((p) => [p.type, p.alg]), [['public-key', -7], ['public-key', -8], ['public-key', -257]]);
  assert.deepEqual(o.excludeCredentials, []);
  assert.equal(o.attestation, 'none');
  assert.equal(typeof o.timeout, 'number');
  assert.equal(o.authenticatorSelection.userVerification, 'required');
});

test('register ES256 (none), EdDSA and RS256 (packed self attestation); list; exclusion', async () => {
  const a = await register(es256, 'none');
  assert.equal(a.status, 201, a.text);
  assert.deepEqual(a.json.data, { credentialId: b64u(es256.credentialId), description: a.json.data.description });
  assert.match(a.json.data.description, / - \d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
  const b = await register(ed25519, 'packed', 'my laptop');
  assert.equal(b.status, 201, b.text);
  assert.equal(b.json.data.description, 'my laptop');
  const d = await register(rs256, 'packed');
  assert.equal(d.status, 201, d.text);
  // The same credential twice is a conflict.
  assert.equal((await register(es256, 'none')).status, 409);

  const list = await api('GET', '/api/auth/wa/reg', { token });
  assert.equal(list.status, 200);
  assert.deepEqual(list.json.data.map((x) => x.credentialId).sort(),
    [es256, ed25519, rs256].map((x) => b64u(x.credentialId)).sort());
  for (const x of list.json.data) assert.deepEqual(Object.keys(x), ['credentialId', 'description']);
  const ch = await api('GET', '/api/auth/wa/reg/challenge', { token });
  assert.equal(ch.json.data.options.excludeCredentials.length, 3);
  assert.equal(ch.json.data.options.excludeCredentials[0].type, 'public-key');
});

test('registration refuses a wrong origin, RP id or challenge, a reused token and hostile CBOR', async () => {
  const fresh = new Authenticator(-7);
  const attempt = async (mutate, opts = {}) => {
    const ch = await api('GET', '/api/auth/wa/reg/challenge', { token });
    const options = mutate ? mutate(structuredClone(ch.json.data.options)) : ch.json.data.options;
    return api('POST', '/api/auth/wa/reg', { token, body: { token: ch.json.data.token, response: fresh.create(options, opts) } });
  };
  assert.equal((await attempt(null, { origin: 'https://evil.wa.test' })).status, 403);
  assert.equal((await attempt(null, { rpId: 'evil.wa.test' })).status, 403);
  assert.equal((await attempt((o) => { o.challenge = b64u(randomBytes(32)); return o; })).status, 403);
  // A challenge token is good once.
  const ch = await api('GET', '/api/auth/wa/reg/challenge', { token });
  const body = { token: ch.json.data.token, response: fresh.create(ch.json.data.options) };
  assert.equal((await api('POST', '/api/auth/wa/reg', { token, body })).status, 201);
  assert.equal((await api('POST', '/api/auth/wa/reg', { token, body })).status, 403);
  assert.equal((await api('DELETE', `/api/auth/wa/reg/${b64u(fresh.credentialId)}`, { token })).status, 200);
  // Hostile CBOR (indefinite lengths, a huge length, deep nesting) is a 400, never a crash.
  for (const bad of [[0xbf, 0xff, 0x9f], [0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], Array(5000).fill(0x81)]) {
    const g = await api('GET', '/api/auth/wa/reg/challenge', { token });
    const response = fresh.create(g.json.data.options);
    response.response.attestationObject = b64u(Buffer.from(bad));
    assert.equal((await api('POST', '/api/auth/wa/reg', { token, body: { token: g.json.data.token, response } })).status, 400);
  }
  const g = await api('GET', '/api/auth/wa/reg/challenge', { token });
  const junk = { id: 'x', rawId: 'x', type: 'public-key', response: { clientDataJSON: 'e30', attestationObject: 'oA' } };
  assert.equal((await api('POST', '/api/auth/wa/reg', { token, body: { token: g.json.data.token, response: junk } })).status, 400);
  assert.equal((await api('POST', '/api/auth/wa/reg', { token, body: { token: 'x', response: {} } })).status, 400);
});

test('login with each key gives the password login\'s object, and the token works as owner', async () => {
  const password = await api('POST', '/api/auth/login', { body: { idTag: alice.idTag, password: alice.password } });
  for (const auth of [es256, ed25519, rs256]) {
    const ch = await loginChallenge();
    assert.equal(ch.options.rpId, alice.idTag);
    assert.equal(ch.options.allowCredentials.length, 3);
    const r = await api('POST', '/api/auth/wa/login', { body: { token: ch.token, response: auth.get(ch.options) } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(Object.keys(r.json.data), Object.keys(password.json.data));
    assert.equal(r.json.data.idTag, alice.idTag);
    assert.equal(r.json.data.tnId, alice.tnId);
    assert.deepEqual(r.json.data.roles, password.json.data.roles);
    const me = await api('GET', '/api/me/full', { token: r.json.data.token });
    assert.equal(me.status, 200, me.text);
    assert.equal(me.json.data.idTag, alice.idTag);
    const keys = await api('GET', '/api/auth/wa/reg', { token: r.json.data.token });
    assert.equal(keys.status, 200);  // an owner session
  }
});

test('a cloned authenticator (counter not above the stored one) is refused and not stored', async () => {
  const good = await loginChallenge();
  es256.counter = 10;
  assert.equal((await api('POST', '/api/auth/wa/login', { body: { token: good.token, response: es256.get(good.options, { counter: 10 }) } })).status, 200);
  for (const counter of [10, 9, 0]) {
    const ch = await loginChallenge();
    const r = await api('POST', '/api/auth/wa/login', { body: { token: ch.token, response: es256.get(ch.options, { counter }) } });
    assert.equal(r.status, 403, `counter ${counter}: ${r.text}`);
  }
  const ch = await loginChallenge();
  assert.equal((await api('POST', '/api/auth/wa/login', { body: { token: ch.token, response: es256.get(ch.options, { counter: 11 }) } })).status, 200);
});

test('login refuses a wrong origin, a wrong RP id, a reused or foreign challenge and a bad signature', async () => {
  const post = (tok, response, idTag = alice.idTag) => c.api(idTag, 'POST', '/api/auth/wa/login', { body: { token: tok, response } });
  let ch = await loginChallenge();
  assert.equal((await post(ch.token, ed25519.get(ch.options, { origin: 'https://evil.wa.test' }))).status, 403);
  ch = await loginChallenge();
  assert.equal((await post(ch.token, ed25519.get(ch.options, { rpId: 'evil.wa.test' }))).status, 403);
  ch = await loginChallenge();
  const once = ed25519.get(ch.options);
  assert.equal((await post(ch.token, once)).status, 200);
  assert.equal((await post(ch.token, ed25519.get(ch.options))).status, 403);  // token used
  ch = await loginChallenge();
  const forged = ed25519.get(ch.options);
  forged.response.signature = b64u(rs256.sign(Buffer.from('other')));
  assert.equal((await post(ch.token, forged)).status, 403);
  // A registration token is not a login token, and alice's challenge does not log in bob.
  const reg = await api('GET', '/api/auth/wa/reg/challenge', { token });
  assert.equal((await post(reg.json.data.token, ed25519.get({ ...reg.json.data.options, rpId: alice.idTag }))).status, 403);
  ch = await loginChallenge();
  assert.equal((await post(ch.token, ed25519.get(ch.options), bob.idTag)).status, 403);
  assert.equal((await post('nonsense', ed25519.get(ch.options))).status, 403);
  assert.equal((await post(ch.token, { response: {} })).status, 400);
});

test('login-init offers webAuthn {options, token} when keys exist, and its token logs in', async () => {
  const init = await api('POST', '/api/auth/login-init', { body: {} });
  assert.equal(init.status, 200);
  const wa = init.json.data.webAuthn;
  assert.deepEqual(Object.keys(wa), ['options', 'token']);
  assert.equal(wa.options.rpId, alice.idTag);
  assert.equal(wa.options.allowCredentials.length, 3);
  assert.ok(init.json.data.qrLogin.sessionId);
  const r = await api('POST', '/api/auth/wa/login', { body: { token: wa.token, response: rs256.get(wa.options) } });
  assert.equal(r.status, 200, r.text);
  // bob has none.
  assert.equal((await c.api(bob.idTag, 'POST', '/api/auth/login-init', { body: {} })).json.data.webAuthn, null);
});

test('delete removes a passkey: it no longer logs in', async () => {
  const id = b64u(ed25519.credentialId);
  assert.equal((await api('DELETE', `/api/auth/wa/reg/${id}`, { token })).status, 200);
  assert.equal((await api('DELETE', `/api/auth/wa/reg/${id}`, { token })).status, 404);
  assert.equal((await c.api(bob.idTag, 'DELETE', `/api/auth/wa/reg/${b64u(es256.credentialId)}`, { token: await c.login(bob) })).status, 404);
  const list = await api('GET', '/api/auth/wa/reg', { token });
  assert.equal(list.json.data.length, 2);
  const ch = await loginChallenge();
  assert.equal(ch.options.allowCredentials.length, 2);
  assert.equal((await api('POST', '/api/auth/wa/login', { body: { token: ch.token, response: ed25519.get(ch.options) } })).status, 403);
});
