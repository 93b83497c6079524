// Compressed answers through the gateway: the shell's static files (a shipped `.br`
// sibling, or compressed by the gateway) and JSON answers, only when the client asks,
// and the caching of versioned assets.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { Cluster } from './cluster.mjs';

const web = mkdtempSync(path.join(os.tmpdir(), 'web-'));
const script = Array.from({ length: 400 }, (_, i) => `console.log("line ${i}");`).join('\n');
mkdirSync(path.join(web, 'assets-1.2.3'));
writeFileSync(path.join(web, 'index.html'), `<!doctype html><title>shell</title>${' '.repeat(600)}`);
writeFileSync(path.join(web, 'assets-1.2.3', 'index.js'), script);
writeFileSync(path.join(web, 'assets-1.2.3', 'index.js.br'), zlib.brotliCompressSync(script));
writeFileSync(path.join(web, 'assets-1.2.3', 'index.css'), `body{margin:0}\n`.repeat(100));
writeFileSync(path.join(web, 'favicon.png'), Buffer.alloc(3000, 7));

const c = new Cluster({ CLOUDILLO_WEB_ROOT: web });
let alice, token;
before(async () => {
  await c.start();
  alice = c.createTenant('alice.compress.test');
  token = await c.login(alice);
});
after(async () => { await c.stop(); rmSync(web, { recursive: true, force: true }); });

const file = (p, accept) => c.api(alice.idTag, 'GET', p, { host: alice.idTag, headers: accept ? { 'Accept-Encoding': accept } : {} });

test('static files: a shipped .br sibling, gzip made by the gateway, nothing when not asked', async () => {
  const br = await file('/assets-1.2.3/index.js', 'gzip, deflate, br');
  assert.equal(br.status, 200);
  assert.equal(br.headers['content-encoding'], 'br');
  assert.equal(zlib.brotliDecompressSync(br.bytes).toString(), script);
  assert.equal(br.headers['cache-control'], 'public, max-age=31536000, immutable');
  assert.match(br.headers.vary, /accept-encoding/i);

  const gz = await file('/assets-1.2.3/index.css', 'gzip');
  assert.equal(gz.headers['content-encoding'], 'gzip');
  assert.equal(zlib.gunzipSync(gz.bytes).toString(), `body{margin:0}\n`.repeat(100));

  const plain = await file('/assets-1.2.3/index.js');
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.equal(plain.text, script);
  const refused = await file('/assets-1.2.3/index.js', 'br;q=0, gzip;q=0');
  assert.equal(refused.headers['content-encoding'], undefined);
  assert.equal(refused.text, script);

  const png = await file('/favicon.png', 'gzip, br');
  assert.equal(png.headers['content-encoding'], undefined);
  assert.equal(png.bytes.length, 3000);
  assert.equal(png.headers['cache-control'], 'public, max-age=3600');

  const shell = await file('/some/route', 'gzip');
  assert.equal(shell.headers['cache-control'], 'no-cache');
  assert.match(zlib.gunzipSync(shell.bytes).toString(), /<title>shell<\/title>/);
});

test('JSON answers: gzip when asked, Brotli only when preferred, nothing when not asked', async () => {
  const ask = (accept) => c.api(alice.idTag, 'GET', '/api/settings', { token, headers: accept ? { 'Accept-Encoding': accept } : {} });
  const plain = await ask();
  assert.equal(plain.status, 200);
  assert.ok(plain.bytes.length > 256, 'a settings list is big enough to compress');
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.match(plain.headers.vary, /accept-encoding/i);
  const expected = plain.json.data;

  const gz = await ask('gzip, deflate, br');
  assert.equal(gz.headers['content-encoding'], 'gzip');
  assert.ok(gz.bytes.length < plain.bytes.length);
  assert.deepEqual(JSON.parse(zlib.gunzipSync(gz.bytes)).data, expected);

  const br = await ask('br');
  assert.equal(br.headers['content-encoding'], 'br');
  assert.deepEqual(JSON.parse(zlib.brotliDecompressSync(br.bytes)).data, expected);

  // Small answers and errors stay as they are.
  const small = await c.api(alice.idTag, 'GET', '/api/nothing-here', { headers: { 'Accept-Encoding': 'gzip' } });
  assert.equal(small.status, 404);
  assert.equal(small.headers['content-encoding'], undefined);
  assert.equal(small.json.error.code, 'E-CORE-NOTFOUND');
});
