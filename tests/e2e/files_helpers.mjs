// Helpers of the file tests: ids as PROTOCOL §4.1 defines them, a PNG writer (so the
// tests need no image package), and streamed uploads and downloads over node:http
// that never hold a large body in memory.
import { createHash } from 'node:crypto';
import http from 'node:http';
import { deflateSync } from 'node:zlib';

export const sha = (buf) => createHash('sha256').update(buf).digest();
export const b64url = (buf) => Buffer.from(buf).toString('base64url');
export const blobId = (bytes) => `b1~${b64url(sha(bytes))}`;
export const fileIdOf = (descriptor) => `f1~${b64url(sha(Buffer.from(descriptor, 'utf8')))}`;

// A w×h RGB PNG of one colour.
export function png(w, h, rgb = [200, 40, 40]) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const c = Buffer.alloc(4); c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; ihdr[9] = 2; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;
  const row = Buffer.alloc(1 + w * 3);
  for (let x = 0; x < w; x++) row.set(rgb, 1 + x * 3);
  const raw = Buffer.concat(Array.from({ length: h }, () => row));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

// Deterministic pseudo-random bytes: chunk i of a stream named `seed`.
export function block(seed, i, size) {
  const out = Buffer.alloc(size);
  let h = createHash('sha256').update(`${seed}:${i}`).digest();
  for (let off = 0; off < size; off += 32) {
    h.copy(out, off, 0, Math.min(32, size - off));
    if (off % 4096 === 0) h = createHash('sha256').update(h).digest();
  }
  return out;
}

// Uploads `total` bytes made by block(seed, …) in 1 MiB chunks with back-pressure;
// resolves { status, json, hash } (hash: base64url SHA-256 of what was sent).
export function streamUpload(c, tenant, token, urlPath, seed, total, { contentType = 'application/octet-stream', onProgress } = {}) {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    const req = http.request({
      host: '127.0.0.1', port: c.ports.http, method: 'POST', path: urlPath, agent: false,
      headers: { Host: `cl-o.${tenant.idTag}`, Authorization: `Bearer ${token}`, 'Content-Type': contentType,
        'Content-Length': total, 'X-Forwarded-For': c.clientIp },
    }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json; try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, json, text, hash: b64url(hash.digest()) });
      });
    });
    req.on('error', reject);
    let sent = 0, i = 0;
    const pump = () => {
      while (sent < total) {
        const n = Math.min(1 << 20, total - sent);
        const buf = block(seed, i++, n);
        hash.update(buf);
        sent += n;
        if (onProgress) onProgress(sent);
        if (!req.write(buf)) return req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

// GETs a body without keeping it: { status, headers, length, hash }.
export function streamDownload(c, tenant, token, urlPath, headers = {}) {
  return new Promise((resolve, reject) => {
    const h = { Host: `cl-o.${tenant.idTag}`, 'X-Forwarded-For': c.clientIp, ...headers };
    if (token) h.Authorization = `Bearer ${token}`;
    const req = http.request({ host: '127.0.0.1', port: c.ports.http, method: 'GET', path: urlPath, agent: false, headers: h }, (res) => {
      const hash = createHash('sha256');
      let length = 0;
      res.on('data', (d) => { hash.update(d); length += d.length; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, length, hash: b64url(hash.digest()) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
