// Starts a real split cluster (identity, access, gateway as separate processes) on
// free loopback ports against the PostgreSQL and Redis of tools/testenv, with a fresh
// database, and drives it over plain HTTP with a hand-set Host header (node:http;
// fetch would drop it).
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes, createDecipheriv, createHmac } from 'node:crypto';
import { readFileSync, mkdtempSync, openSync, closeSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const build = process.env.CLOUDILLO_BUILD_DIR || path.join(root, 'build');

export function testEnv() {
  const file = process.env.CLOUDILLO_TEST_ENV_FILE || path.join(build, 'test-env/env');
  const env = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) env[line.slice(0, i)] = line.slice(i + 1);
  }
  return env;
}

// A port for a service to listen on: below the kernel's ephemeral range, so that no
// outgoing connection (of this cluster's services, of PostgreSQL, of the test) can take it
// between this check and the service's bind; never the same one twice in a process.
const handedOut = new Set();
const ephemeralLow = (() => {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32768;
  } catch {
    return 32768;
  }
})();
export async function freePort() {
  const low = 10000, high = Math.max(low + 1000, ephemeralLow);
  for (let i = 0; i < 500; i++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (handedOut.has(port)) continue;
    handedOut.add(port);  // before the check: concurrent calls never pick the same
    const free = await new Promise((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port below the ephemeral range');
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function request(port, host, method, urlPath, { headers = {}, body, raw } = {}) {
  return new Promise((resolve, reject) => {
    const data = raw !== undefined ? raw : body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const h = { Host: host, ...headers };
    if (data !== undefined && !('Content-Type' in h) && !('content-type' in h)) h['Content-Type'] = 'application/json';
    if (data !== undefined) h['Content-Length'] = data.length;
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, headers: h, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const bytes = Buffer.concat(chunks);
        const text = bytes.toString('utf8');
        let json;
        try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, bytes, text, json });
      });
    });
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

// Never leave a service running when the test process ends, however it ends: one hook
// for every cluster of the process (one per service would pile up past Node's limit).
const running = new Set();
process.once('exit', () => { for (const p of running) p.kill('SIGKILL'); });

export class Cluster {
  // `allInOne`: run the one-process binary instead of the split services.
  constructor(extraEnv = {}, { allInOne = false } = {}) {
    this.extraEnv = extraEnv;
    this.allInOne = allInOne;
    this.procs = {};
    this.exitCodes = {};
    // Every request of this cluster appears to come from its own address (through a
    // trusted proxy), so rate limits and bans of one test file never touch another.
    this.clientIp = `198.18.${randomBytes(1)[0]}.${1 + (randomBytes(1)[0] % 250)}`;
  }

  async start() {
    const t = testEnv();
    this.db = `e2e_${randomBytes(6).toString('hex')}`;
    execFileSync('psql', ['-q', t.CLOUDILLO_TEST_DATABASE_URL, '-c', `CREATE DATABASE ${this.db}`]);
    this.masterKey = randomBytes(32);
    this.adminToken = randomBytes(16).toString('hex');
    const [grpcI, grpcA, admin, http, opsG, opsI, opsA, grpcX, opsX] = await Promise.all(Array.from({ length: 9 }, freePort));
    this.ports = { grpcI, grpcA, admin, http, opsG, opsI, opsA, grpcX, opsX };
    // A federation test picks the gateway's port first, to map one cluster's hosts to
    // the other (CLOUDILLO_FEDERATION_MAP).
    if (this.extraEnv.CLOUDILLO_HTTP_PORT) this.ports.http = Number(this.extraEnv.CLOUDILLO_HTTP_PORT);
    [this.ports.grpcB, this.ports.opsB, this.ports.grpcC, this.ports.opsC] = await Promise.all(
      [freePort(), freePort(), freePort(), freePort()]);
    this.logDir = mkdtempSync(path.join(os.tmpdir(), 'cloudillo-e2e-'));
    // The internal network's mutual TLS: one CA, a certificate per service identity.
    this.certs = path.join(this.logDir, 'certs');
    execFileSync(path.join(root, 'tools/cluster-certs'), [this.certs, 'gateway', 'identity', 'access', 'action', 'admin', 'blob', 'collab']);
    this.env = {
      PATH: process.env.PATH,
      CLOUDILLO_DATABASE_URL: t.CLOUDILLO_TEST_DATABASE_URL.replace(/\/[^/]*$/, `/${this.db}`),
      CLOUDILLO_REDIS_ADDR: t.CLOUDILLO_TEST_REDIS,
      CLOUDILLO_MASTER_KEY: this.masterKey.toString('base64'),
      CLOUDILLO_ADMIN_TOKEN: this.adminToken,
      CLOUDILLO_ADMIN_ADDR: `127.0.0.1:${admin}`,
      CLOUDILLO_IDENTITY_ADDR: `127.0.0.1:${grpcI}`,
      CLOUDILLO_ACCESS_ADDR: `127.0.0.1:${grpcA}`,
      CLOUDILLO_ACTION_ADDR: `127.0.0.1:${grpcX}`,
      CLOUDILLO_HTTP_PORT: String(http),
      CLOUDILLO_LISTEN_ADDRESS: '127.0.0.1',
      CLOUDILLO_LOGIN_FAILURE_DELAY_MS: '0',
      CLOUDILLO_TRUSTED_PROXIES: '127.0.0.1/32',
      CLOUDILLO_ACCESS_LOG: 'false',
      CLOUDILLO_SHUTDOWN_GRACE_SECONDS: '2',
      CLOUDILLO_DRAIN_DELAY_SECONDS: '0',
      CLOUDILLO_GRPC_CA: path.join(this.certs, 'ca.crt'),
      CLOUDILLO_BLOB_ADDR: `127.0.0.1:${this.ports.grpcB}`,
      CLOUDILLO_BLOB_DIR: path.join(this.logDir, 'blobs'),
      CLOUDILLO_BLOB_MAX_UPLOAD_MB: '512',
      CLOUDILLO_COLLAB_ADDR: `127.0.0.1:${this.ports.grpcC}`,
      ...this.extraEnv,
    };
    const migrators = this.allInOne ? ['allinone'] : ['identity', 'access', 'action', 'blob', 'collab'];
    for (const svc of migrators) {
      execFileSync(path.join(build, `services/${svc}/cloudillo-${svc}`), ['migrate'], { env: this.env, stdio: 'ignore' });
    }
    await this.startServices();
  }

  async startServices() {
    const { grpcI, opsI, opsA, opsG } = this.ports;
    if (this.allInOne) {
      this.spawn('allinone', [`--ops-addr=127.0.0.1:${opsG}`]);
    } else {
      this.spawn('identity', [`--grpc-listen=127.0.0.1:${grpcI}`, `--ops-addr=127.0.0.1:${opsI}`]);
      this.spawn('access', [`--grpc-listen=127.0.0.1:${this.ports.grpcA}`, `--ops-addr=127.0.0.1:${opsA}`]);
      this.spawn('action', [`--grpc-listen=127.0.0.1:${this.ports.grpcX}`, `--ops-addr=127.0.0.1:${this.ports.opsX}`]);
      this.spawn('blob', [`--grpc-listen=127.0.0.1:${this.ports.grpcB}`, `--ops-addr=127.0.0.1:${this.ports.opsB}`]);
      this.spawn('collab', [`--grpc-listen=127.0.0.1:${this.ports.grpcC}`, `--ops-addr=127.0.0.1:${this.ports.opsC}`]);
      this.spawn('gateway', [`--ops-addr=127.0.0.1:${opsG}`]);
    }
    // Each process reports itself ready; the gateway does not wait for its backends.
    const ops = this.allInOne ? { allinone: opsG } : {
      gateway: opsG, identity: opsI, access: opsA, action: this.ports.opsX, blob: this.ports.opsB, collab: this.ports.opsC };
    for (const [name, port] of Object.entries(ops)) await this.waitReady(name, port);
  }

  // Polls a process's /readyz for 15 s. On failure the error says why, for a CI log that
  // keeps only the test output: the process's exit code and the end of its own log.
  async waitReady(name, port) {
    for (let i = 0; i < 150; i++) {
      const r = await request(port, 'localhost', 'GET', '/readyz').catch(() => null);
      if (r && r.status === 200) return;
      await sleep(100);
    }
    let tail = '';
    try {
      tail = readFileSync(path.join(this.logDir, `${name}.log`), 'utf8').split('\n').slice(-12).join('\n');
    } catch { /* no log yet */ }
    const exit = name in this.exitCodes ? `exited with ${this.exitCodes[name]}` : 'still running';
    throw new Error(`${name} not ready after 15 s (${exit}); logs in ${this.logDir}\n${tail}`);
  }

  // A second collab replica and a gateway in front of it (split clusters only): both
  // gateways serve every tenant; each reaches only its own collab. Returns the second
  // gateway's HTTP port.
  async startSecondCollab() {
    const [grpc, ops, http, opsG] = await Promise.all(Array.from({ length: 4 }, freePort));
    this.ports.http2 = http;
    this.spawn('collab', [`--grpc-listen=127.0.0.1:${grpc}`, `--ops-addr=127.0.0.1:${ops}`], 'collab2',
      { CLOUDILLO_COLLAB_ADDR: `127.0.0.1:${grpc}` });
    this.spawn('gateway', [`--ops-addr=127.0.0.1:${opsG}`], 'gateway2',
      { CLOUDILLO_COLLAB_ADDR: `127.0.0.1:${grpc}`, CLOUDILLO_HTTP_PORT: String(http) });
    await this.waitReady('collab2', ops);
    await this.waitReady('gateway2', opsG);
    return http;
  }

  // Sends `signal` to one process (by its spawn name) and waits for it to end.
  async kill(name, signal = 'SIGKILL') {
    const p = this.procs[name];
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise((resolve) => { p.once('exit', resolve); p.kill(signal); });
  }

  // The environment of one process: its own certificate (the all-in-one binary
  // serves the admin API under identity's name).
  envFor(name) {
    const cert = name === 'allinone' ? 'identity' : name;
    return {
      ...this.env,
      CLOUDILLO_GRPC_CERT: path.join(this.certs, `${cert}.crt`),
      CLOUDILLO_GRPC_KEY: path.join(this.certs, `${cert}.key`),
    };
  }

  // `as`: the name of a second process of the same service (its log, its entry in
  // procs); `env`: settings of this process only.
  spawn(name, args, as = name, env = {}) {
    const bin = path.join(build, `services/${name}/cloudillo-${name}`);
    const log = path.join(this.logDir, `${as}.log`);
    // Logs go straight to a file: a pipe would fill while the test blocks in a
    // synchronous call (the admin CLI) and stall the service on its next log line.
    const fd = openSync(log, 'a');
    const p = spawn(bin, args, { env: { ...this.envFor(name), ...env }, stdio: ['ignore', 'ignore', fd] });
    closeSync(fd);
    running.add(p);
    p.on('exit', (code, signal) => {
      this.exitCodes[as] = signal ? signal : code;
      running.delete(p);
    });
    this.procs[as] = p;
  }

  // SIGTERM every process and wait; returns their exit codes.
  async stopServices() {
    const waits = Object.entries(this.procs).map(([name, p]) => new Promise((resolve) => {
      if (p.exitCode !== null || p.signalCode !== null) return resolve();
      p.once('exit', resolve);
      p.kill('SIGTERM');
      setTimeout(() => p.kill('SIGKILL'), 8000).unref();
    }));
    await Promise.all(waits);
    const codes = { ...this.exitCodes };
    this.procs = {};
    return codes;
  }

  async stop() {
    await this.stopServices();
    const t = testEnv();
    try {
      execFileSync('psql', ['-q', t.CLOUDILLO_TEST_DATABASE_URL, '-c', `DROP DATABASE IF EXISTS ${this.db} WITH (FORCE)`]);
    } catch { /* best effort */ }
  }

  // The admin CLI as an operator runs it: an `admin` certificate, the token from the
  // environment, secrets on stdin.
  admin(...args) {
    const input = args.length && typeof args[args.length - 1] === 'object' ? args.pop().stdin : undefined;
    return execFileSync(path.join(build, 'tools/admin-cli/cloudillo-admin'), [`--addr=127.0.0.1:${this.ports.admin}`, ...args], {
      encoding: 'utf8',
      maxBuffer: 1 << 28,
      input,
      env: {
        PATH: process.env.PATH,
        CLOUDILLO_ADMIN_TOKEN: this.adminToken,
        CLOUDILLO_GRPC_CA: path.join(this.certs, 'ca.crt'),
        CLOUDILLO_GRPC_CERT: path.join(this.certs, 'admin.crt'),
        CLOUDILLO_GRPC_KEY: path.join(this.certs, 'admin.key'),
      },
    });
  }

  createTenant(idTag, password = 'password123') {
    const line = this.admin('tenant', 'create', idTag, '--password-stdin', `--name=Name ${idTag}`, { stdin: `${password}\n` }).trim();
    return { tnId: Number(line.split('\t')[0]), idTag, password };
  }

  api(idTag, method, urlPath, opts = {}) {
    const headers = { 'X-Forwarded-For': this.clientIp, ...(opts.headers || {}) };
    if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
    return request(this.ports.http, opts.host !== undefined ? opts.host : `cl-o.${idTag}`, method, urlPath, { ...opts, headers });
  }

  async login(tenant) {
    const r = await this.api(tenant.idTag, 'POST', '/api/auth/login', { body: { idTag: tenant.idTag, password: tenant.password } });
    if (r.status !== 200) throw new Error(`login failed: ${r.status} ${r.text}`);
    return r.json.data.token;
  }

  // The current HS256 secret of every tenant (or of one), unsealed with the master key
  // the test made: to forge expired or otherwise hostile tokens with a valid
  // signature, and to mint owner tokens for benchmarks.
  tokenSecrets(tnId) {
    const where = tnId === undefined ? '' : ` AND tn_id = ${Number(tnId)}`;
    const rows = execFileSync('psql', ['-tA', '-F', '|', this.env.CLOUDILLO_DATABASE_URL, '-c',
      `SELECT tn_id, kid, sealed_secret FROM access.token_secrets WHERE expires_at IS NULL${where}`], { encoding: 'utf8', maxBuffer: 1 << 28 }).trim();
    const out = new Map();
    for (const row of rows.split('\n').filter(Boolean)) {
      const [tn, kid, sealedB64] = row.split('|');
      const secret = unseal(new Map([[1, this.masterKey]]), Buffer.from(sealedB64, 'base64'),
        Buffer.from(`access.token_secrets:${tn}:${kid}`));
      out.set(Number(tn), { kid, secret });
    }
    return out;
  }

  // Resident memory of one process: { rss, peak } in bytes (VmRSS, VmHWM).
  memory(name) {
    const status = readFileSync(`/proc/${this.procs[name].pid}/status`, 'utf8');
    const kb = (k) => Number((status.match(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm')) || [0, 0])[1]) * 1024;
    return { rss: kb('VmRSS'), peak: kb('VmHWM') };
  }

  tokenSecret(tnId) {
    return this.tokenSecrets(tnId).get(Number(tnId));
  }

  // An HS256 token for `claims`, signed with the tenant's current secret (`secrets`
  // from tokenSecrets() saves a query per token when minting many).
  mintToken(tnId, claims, secrets = this.tokenSecrets(tnId)) {
    const { kid, secret } = secrets.get(Number(tnId));
    const input = `${b64url(JSON.stringify({ alg: 'HS256', kid, typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}`;
    return `${input}.${b64url(createHmac('sha256', secret).update(input).digest())}`;
  }
}

// Opens a value sealed by crypto::MasterKey (libs/crypto/.../master_key.h) with a
// keyring `keys` (version -> 32-byte Buffer). Format 1 is
// "CLK" 0x01 ‖ version(u32 BE) ‖ nonce(12) ‖ ciphertext ‖ tag(16), the 8-byte header
// prefixed to the associated data; without the header it is the legacy layout
// nonce ‖ ciphertext ‖ tag under version 1. A legacy nonce may start with the magic, so
// the legacy reading is tried whenever the header reading fails.
export function unseal(keys, sealed, aad) {
  const open = (key, header, body) => {
    const d = createDecipheriv('aes-256-gcm', key, body.subarray(0, 12));
    d.setAAD(Buffer.concat([header, aad]));
    d.setAuthTag(body.subarray(body.length - 16));
    return Buffer.concat([d.update(body.subarray(12, body.length - 16)), d.final()]);
  };
  const tryOpen = (key, header, body) => {
    if (!key || body.length < 28) return undefined;
    try { return open(key, header, body); } catch { return undefined; }
  };
  let version = 0;
  if (sealed.length >= 8 && sealed.subarray(0, 4).equals(Buffer.from('CLK\x01', 'latin1'))) {
    version = sealed.readUInt32BE(4);
    const opened = tryOpen(keys.get(version), sealed.subarray(0, 8), sealed.subarray(8));
    if (opened) return opened;
  }
  const legacy = tryOpen(keys.get(1), Buffer.alloc(0), sealed);
  if (legacy) return legacy;
  throw new Error(version && !keys.has(version)
    ? `sealed value names master key version ${version}, which the keyring lacks`
    : 'sealed value does not open under the master keyring');
}

export function b64url(buf) {
  return Buffer.from(buf).toString('base64').replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
}

export function decodeJwt(token) {
  const [h, p] = token.split('.');
  return { header: JSON.parse(Buffer.from(h, 'base64url').toString()), payload: JSON.parse(Buffer.from(p, 'base64url').toString()) };
}
