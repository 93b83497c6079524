// The blob service on its S3 store (s3rver from npm, started by tools/testenv like
// PostgreSQL and Redis): round trips of 0 B, 1 B, 5 MB and 200 MB (multipart) with
// the memory of the gateway and the blob service bounded, ranges, deduplication,
// garbage collection, and no object left by an upload the service died during.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import http from 'node:http';
import { Cluster, testEnv } from './cluster.mjs';
import { blobId, streamUpload, streamDownload } from './files_helpers.mjs';

const env = testEnv();
const skip = env.CLOUDILLO_TEST_S3_ENDPOINT ? false : 'no s3rver in this test environment (npm ci in tests/)';
const bucket = `blobs-${randomBytes(4).toString('hex')}`;
const c = new Cluster({
  CLOUDILLO_BLOB_STORE: 's3',
  CLOUDILLO_S3_ENDPOINT: env.CLOUDILLO_TEST_S3_ENDPOINT || 'http://127.0.0.1:1',
  CLOUDILLO_S3_BUCKET: bucket,
  CLOUDILLO_S3_ACCESS_KEY: 'S3RVER',
  CLOUDILLO_S3_SECRET_KEY: 'S3RVER',
});
let a, token;
const MB = 1024 * 1024;
// s3rver runs for the whole test run (tools/testenv); if it is gone, say so with its log.
async function s3rverAlive() {
  const endpoint = new URL(env.CLOUDILLO_TEST_S3_ENDPOINT);
  const up = await new Promise((resolve) => {
    http.get({ host: endpoint.hostname, port: endpoint.port, path: '/' }, (res) => { res.resume(); resolve(true); })
      .on('error', () => resolve(false));
  });
  if (up) return;
  const logFile = path.join(env.CLOUDILLO_TEST_DIR, 's3.log');
  const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n') : '(no log)';
  throw new Error(`s3rver does not answer at ${endpoint}; its log ends:\n${log}`);
}

before(async () => {
  if (skip) return;
  await s3rverAlive();
  await c.start();
  a = c.createTenant('a.s3.test');
  token = await c.login(a);
});
after(() => (skip ? undefined : c.stop()));

// Objects of tenant `a` as s3rver keeps them on disk: <dir>/s3/<bucket>/<tn_id>/<id>._S3rver_object.
function objects() {
  const dir = path.join(env.CLOUDILLO_TEST_DIR, 's3', bucket, String(a.tnId));
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith('._S3rver_object')).map((f) => f.replace('._S3rver_object', ''));
}

const upload = (name, bytes) => c.api(a.idTag, 'POST', `/api/files/file/${name}`,
  { token, raw: bytes, headers: { 'Content-Type': 'application/octet-stream' } });

test('round trips of 0 B, 1 B and 5 MB through the S3 store, ranges, dedup', { skip }, async () => {
  for (const size of [0, 1, 5 * MB]) {
    const bytes = randomBytes(size);
    const up = await upload(`s3-${size}.bin`, bytes);
    assert.equal(up.status, 201, up.text);
    assert.ok(objects().includes(blobId(bytes)), `object of ${size} bytes`);
    const g = await c.api(a.idTag, 'GET', `/api/files/${up.json.data.fileId}`, { token });
    assert.equal(g.status, 200);
    assert.ok(g.bytes.equals(bytes));
    if (size > 10) {
      const r = await c.api(a.idTag, 'GET', `/api/files/${up.json.data.fileId}`, { token, headers: { Range: 'bytes=3-9' } });
      assert.equal(r.status, 206);
      assert.ok(r.bytes.equals(bytes.subarray(3, 10)));
    }
    const again = await upload(`s3-${size}.bin`, bytes);
    assert.equal(again.json.data.existed, true);
  }
});

test('200 MB through the S3 store (multipart); memory bounded', { skip, timeout: 900_000 }, async () => {
  const before = { gateway: c.memory('gateway'), blob: c.memory('blob') };
  const up = await streamUpload(c, a, token, '/api/files/file/big-s3.bin', 'big-s3', 200 * MB);
  assert.equal(up.status, 201, up.text);
  assert.ok(objects().includes(`b1~${up.hash}`));
  const down = await streamDownload(c, a, token, `/api/files/${up.json.data.fileId}`);
  assert.equal(down.status, 200);
  assert.equal(down.length, 200 * MB);
  assert.equal(down.hash, up.hash);
  for (const name of ['gateway', 'blob']) {
    const m = c.memory(name);
    console.log(`${name}: rss before ${before[name].rss >> 20} MiB, peak ${m.peak >> 20} MiB`);
    // The S3 store holds one 8 MiB part (and a 4 MiB read window) per transfer.
    assert.ok(m.peak - before[name].rss < 64 * MB, `${name} grew by ${(m.peak - before[name].rss) >> 20} MiB`);
  }
});

test('emptying the trash removes the object', { skip }, async () => {
  const bytes = randomBytes(1000);
  const up = await upload('gc.bin', bytes);
  assert.ok(objects().includes(blobId(bytes)));
  await c.api(a.idTag, 'DELETE', `/api/files/${up.json.data.fileId}?permanent=true`, { token });
  assert.ok(!objects().includes(blobId(bytes)));
});

test('the blob service killed mid-upload leaves no object and no file', { skip, timeout: 120_000 }, async () => {
  const before = objects().length;
  let killed = false;
  const r = await streamUpload(c, a, token, '/api/files/file/killed.bin', 'killed-s3', 48 * MB, {
    onProgress: (sent) => { if (!killed && sent >= 12 * MB) { killed = true; c.procs.blob.kill('SIGKILL'); } },
  }).catch(() => ({ status: 0 }));
  assert.notEqual(r.status, 201);
  c.spawn('blob', [`--grpc-listen=127.0.0.1:${c.ports.grpcB}`, `--ops-addr=127.0.0.1:${c.ports.opsB}`]);
  await c.waitReady('blob', c.ports.opsB);
  for (let i = 0; i < 100; i++) {
    const x = await c.api(a.idTag, 'GET', '/api/files?limit=1', { token });
    if (x.status === 200) break;
    await new Promise((res) => setTimeout(res, 300));
  }
  assert.equal(objects().length, before);
  const list = await c.api(a.idTag, 'GET', '/api/files?limit=1000', { token });
  assert.ok(!list.json.data.some((f) => f.fileName === 'killed.bin'));
});

// Why libs/s3's signer is pinned by AWS's published vectors (libs/s3/tests) and not by
// this file: s3rver 3.7.1 checks that the access key exists but never computes a V4
// signature, so an all-zero one passes. Should s3rver start checking, this fails, and
// the round trips above then prove the signatures too.
test('s3rver accepts any V4 signature of a known key (it does not verify SigV4)', { skip }, async () => {
  const endpoint = new URL(env.CLOUDILLO_TEST_S3_ENDPOINT);
  const date = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
  const empty = createHash('sha256').update('').digest('hex');
  const put = (key) => new Promise((resolve, reject) => {
    const req = http.request({ host: endpoint.hostname, port: endpoint.port, method: 'PUT', path: `/${bucket}/sigv4-probe`,
      headers: { 'x-amz-date': date, 'x-amz-content-sha256': empty, 'Content-Length': 0,
        Authorization: `AWS4-HMAC-SHA256 Credential=${key}/${date.slice(0, 8)}/us-east-1/s3/aws4_request, ` +
          `SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=${'0'.repeat(64)}` } }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', reject);
    req.end();
  });
  const unknown = await put('NOSUCHKEY');
  assert.equal(unknown.status, 403);
  assert.match(unknown.body, /InvalidAccessKeyId/);
  const forged = await put('S3RVER');
  assert.equal(forged.status, 200, forged.body);
});
