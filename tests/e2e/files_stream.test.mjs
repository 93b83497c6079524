// Large and broken uploads through the gateway and the blob service (PROTOCOL §4.3):
// a 200 MB round trip with the resident memory of both processes bounded, and uploads
// that are truncated, aborted, malformed or cut by the blob service dying, none of
// which may ever become a visible file or leave a half-written blob.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Cluster, request } from './cluster.mjs';
import { streamUpload, streamDownload } from './files_helpers.mjs';

// A quota the 200 MB file fits in, and a second large one does not.
const c = new Cluster({ CLOUDILLO_BLOB_QUOTA_MB: '280' });
let a, token;
before(async () => {
  await c.start();
  a = c.createTenant('a.stream.test');
  token = await c.login(a);
});
after(() => c.stop());

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const MB = 1024 * 1024;

async function fileCount() {
  const r = await c.api(a.idTag, 'GET', '/api/files?limit=1000', { token });
  assert.equal(r.status, 200, r.text);
  return r.json.data.length;
}

// Every blob file the local store holds for tenant `a`, and its spool folder.
function storedBlobs() {
  const dir = path.join(c.env.CLOUDILLO_BLOB_DIR, String(a.tnId));
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((s) => readdirSync(path.join(dir, s)));
}
const spool = () => readdirSync(path.join(c.env.CLOUDILLO_BLOB_DIR, 'tmp'));

// A raw HTTP/1.1 upload over a socket, to send exactly the bytes a test wants.
function rawUpload(head, body, { end = true } = {}) {
  return new Promise((resolve) => {
    const s = net.connect(c.ports.http, '127.0.0.1', () => {
      s.write(head);
      if (body) s.write(body);
      if (!end) setTimeout(() => s.destroy(), 300);
    });
    let out = '';
    s.on('data', (d) => { out += d.toString('latin1'); });
    s.on('close', () => resolve(out));
    s.on('error', () => {});
    if (end) setTimeout(() => s.end(), 500);
  });
}
const headOf = (extra) => `POST /api/files/file/broken.bin HTTP/1.1\r\nHost: cl-o.${a.idTag}\r\n` +
  `Authorization: Bearer ${token}\r\nX-Forwarded-For: ${c.clientIp}\r\nContent-Type: application/octet-stream\r\n${extra}\r\n`;

test('200 MB round trip; gateway and blob service memory stays bounded', { timeout: 600_000 }, async () => {
  const total = 200 * MB;
  const before = { gateway: c.memory('gateway'), blob: c.memory('blob') };
  const up = await streamUpload(c, a, token, '/api/files/file/big.bin', 'big', total);
  assert.equal(up.status, 201, up.text);
  const id = up.json.data.fileId;
  const down = await streamDownload(c, a, token, `/api/files/${id}`);
  assert.equal(down.status, 200);
  assert.equal(down.length, total);
  assert.equal(down.hash, up.hash);
  assert.equal(down.headers['x-cloudillo-variant'], `b1~${up.hash}`);
  const part = await streamDownload(c, a, token, `/api/files/${id}`, { Range: `bytes=${100 * MB}-` });
  assert.equal(part.status, 206);
  assert.equal(part.length, 100 * MB);
  for (const name of ['gateway', 'blob']) {
    const m = c.memory(name);
    const grew = m.peak - before[name].rss;
    console.log(`${name}: rss before ${before[name].rss >> 20} MiB, peak ${m.peak >> 20} MiB`);
    // Far below the 200 MB that crossed it: nothing held the body whole.
    assert.ok(grew < 64 * MB, `${name} grew by ${grew >> 20} MiB`);
  }
});

test('a truncated upload (connection closed before Content-Length) is no file', async () => {
  const n = await fileCount();
  await rawUpload(headOf('Content-Length: 100000\r\n'), Buffer.alloc(5000, 1), { end: false });
  await sleep(300);
  assert.equal(await fileCount(), n);
  assert.deepEqual(spool(), []);
});

test('an aborted chunked upload is no file', async () => {
  const n = await fileCount();
  await rawUpload(headOf('Transfer-Encoding: chunked\r\n'), Buffer.from('1000\r\n' + 'x'.repeat(4096) + '\r\n'), { end: false });
  await sleep(300);
  assert.equal(await fileCount(), n);
  assert.deepEqual(spool(), []);
});

test('a malformed chunked body gets 400 and is no file', async () => {
  const n = await fileCount();
  const out = await rawUpload(headOf('Transfer-Encoding: chunked\r\n'), Buffer.from('5\r\nhello\r\nZZZ\r\nxx\r\n0\r\n\r\n'));
  assert.match(out, /^HTTP\/1\.1 400/);
  assert.match(out, /E-VAL-INVALID/);
  assert.equal(await fileCount(), n);
  assert.deepEqual(spool(), []);
});

test('an upload declared over the limit gets 413 after its first bytes, not 600 MB later', async () => {
  // A client still sending (64 KiB every 20 ms) until the answer arrives.
  let sent = 0;
  const out = await new Promise((resolve) => {
    let got = '';
    let pump;
    const sock = net.connect(c.ports.http, '127.0.0.1', () => {
      sock.write(headOf(`Content-Length: ${600 * MB}\r\n`));
      pump = setInterval(() => { if (!sock.destroyed) { sock.write(Buffer.alloc(65536, 7)); sent += 65536; } }, 20);
    });
    const timer = setTimeout(() => sock.destroy(), 15000);
    sock.on('close', () => clearInterval(pump));
    sock.on('data', (d) => {
      got += d.toString('latin1');
      if (got.includes('\r\n\r\n') && got.includes('}')) { clearTimeout(timer); sock.destroy(); }
    });
    sock.on('close', () => { clearTimeout(timer); resolve(got); });
    sock.on('error', () => {});
  });
  assert.match(out, /^HTTP\/1\.1 413/);
  assert.match(out, /E-VAL-INVALID/);
  assert.ok(sent < 64 * MB, `answered only after ${sent} bytes`);
});

test('the blob service killed mid-upload leaves nothing half-written', { timeout: 120_000 }, async () => {
  const n = await fileCount();
  const blobs = storedBlobs().length;
  let killed = false;
  const up = streamUpload(c, a, token, '/api/files/file/killed.bin', 'killed', 64 * MB, {
    onProgress: (sent) => {
      if (!killed && sent >= 16 * MB) { killed = true; c.procs.blob.kill('SIGKILL'); }
    },
  }).catch((e) => ({ status: 0, error: e }));
  const r = await up;
  assert.ok(killed);
  assert.notEqual(r.status, 201);
  await sleep(200);
  // Restart the blob service alone; it empties its spool folder as it starts.
  c.spawn('blob', [`--grpc-listen=127.0.0.1:${c.ports.grpcB}`, `--ops-addr=127.0.0.1:${c.ports.opsB}`]);
  for (let i = 0; i < 100 && !(await fetchReady()); i++) await sleep(100);
  // The gateway's channel reconnects with gRPC's backoff: wait until calls pass again.
  for (let i = 0; i < 100; i++) {
    const r = await c.api(a.idTag, 'GET', '/api/files?limit=1', { token });
    if (r.status === 200) break;
    await sleep(300);
  }
  assert.deepEqual(spool(), []);
  assert.equal(storedBlobs().length, blobs);
  assert.equal(await fileCount(), n);
  // And it works again.
  const again = await streamUpload(c, a, token, '/api/files/file/after.bin', 'after', 1 * MB);
  assert.equal(again.status, 201, again.text);
});

test('an upload beyond the tenant quota gets 507 in the envelope and is no file', { timeout: 120_000 }, async () => {
  const n = await fileCount();
  const r = await streamUpload(c, a, token, '/api/files/file/over.bin', 'over', 90 * MB);
  assert.equal(r.status, 507, r.text);
  assert.equal(r.json.error.code, 'E-SYS-IO');
  assert.equal(r.json.error.details.quota, 280 * MB);
  assert.equal(await fileCount(), n);
  assert.deepEqual(spool(), []);
});

test('the blob service exports its metrics with closed label sets', async () => {
  const m = await request(c.ports.opsB, 'localhost', 'GET', '/metrics');
  assert.equal(m.status, 200);
  for (const name of ['cloudillo_blob_uploads_total{result="stored"}', 'cloudillo_blob_uploads_total{result="aborted"}',
    'cloudillo_blob_uploads_total{result="refused"}', 'cloudillo_blob_upload_bytes_total',
    'cloudillo_blob_stored_bytes_total', 'cloudillo_blob_downloads_total{kind="full"}',
    'cloudillo_blob_downloads_total{kind="partial"}', 'cloudillo_blob_download_bytes_total',
    'cloudillo_blob_variant_seconds_count', 'cloudillo_blob_gc_removed_total']) {
    assert.ok(m.text.includes(name), name);
  }
  assert.ok(!m.text.includes(a.idTag) && !m.text.includes('f1~') && !m.text.includes('b1~'));  // no tenant, no id
});

async function fetchReady() {
  const r = await request(c.ports.opsB, 'localhost', 'GET', '/readyz').catch(() => null);
  return r && r.status === 200;
}
