// Driver of `tools/bench files`. Downloads of 16 KiB and 1 MiB files through the
// gateway and the blob service of a split cluster in the provider configuration
// (access log and rate limits on; only the limits' numbers raised for one load
// generator's address), each beside nginx serving the same bytes from disk in the same
// run (one worker, sendfile, its access log on). Uploads of 200 MB against sha256sum
// over the same bytes, and the resident memory of gateway and blob while one runs
// (sampled every 20 ms, and the kernel's high-water mark).
//
//   BENCH_SECONDS=10 BENCH_CONNECTIONS=16 BENCH_REPS=3 BENCH_UPLOAD_MB=200 tools/bench files
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, createReadStream, mkdtempSync, openSync, writeFileSync, writeSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Cluster, freePort } from '../../tests/e2e/cluster.mjs';
import { block } from '../../tests/e2e/files_helpers.mjs';

const seconds = Number(process.env.BENCH_SECONDS || 10);
const connections = Number(process.env.BENCH_CONNECTIONS || 16);
const reps = Number(process.env.BENCH_REPS || 3);
const uploadMb = Number(process.env.BENCH_UPLOAD_MB || 200);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => console.error(...a);
const mib = (bytes) => bytes / 2 ** 20;

function wrk(port, urlPath, host, token) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-wrk-'));
  const script = path.join(dir, 'get.lua');
  writeFileSync(script, `
request = function()
  return wrk.format("GET", "${urlPath}", { Host = "${host}"${token ? `, Authorization = "Bearer ${token}"` : ''} })
end
bad = 0
response = function(status) if status ~= 200 then bad = bad + 1 end end
done = function(summary, latency, requests)
  io.write(string.format("RESULT n=%d rps=%.1f bytes=%d p50=%.3f p99=%.3f errors=%d\\n", summary.requests,
    summary.requests / (summary.duration / 1e6), summary.bytes, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
end
`);
  const out = execFileSync('wrk', ['-t2', `-c${connections}`, `-d${seconds}s`, '-s', script, `http://127.0.0.1:${port}`],
    { encoding: 'utf8' });
  const m = out.match(/RESULT n=(\d+) rps=([\d.]+) bytes=(\d+) p50=([\d.]+) p99=([\d.]+) errors=(\d+)/);
  if (!m) throw new Error(`wrk printed no result:\n${out}`);
  return { n: Number(m[1]), rps: Number(m[2]), bytes: Number(m[3]), p50: Number(m[4]), p99: Number(m[5]), errors: Number(m[6]),
    mibps: mib(Number(m[3])) / seconds };
}

async function startNginx(root) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-nginx-'));
  const port = await freePort();
  writeFileSync(path.join(dir, 'nginx.conf'), `
worker_processes 1;
daemon on;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 4096; }
http {
  access_log ${dir}/access.log;
  sendfile on;
  tcp_nopush on;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location / { default_type application/octet-stream; add_header Cache-Control "public, max-age=31536000, immutable"; }
  }
}
`);
  execFileSync('nginx', ['-c', path.join(dir, 'nginx.conf')]);
  await sleep(300);
  return { port, stop: () => spawnSync('nginx', ['-c', path.join(dir, 'nginx.conf'), '-s', 'stop']) };
}

function upload(c, idTag, token, name, bytes) {
  return c.api(idTag, 'POST', `/api/files/file/${name}`, { token, raw: bytes, headers: { 'Content-Type': 'application/octet-stream' } });
}

// `prefix` then the file at `file`, streamed with back-pressure; resolves the seconds
// from the first byte sent to the answer.
function streamFile(c, idTag, token, prefix, file, size) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = http.request({ host: '127.0.0.1', port: c.ports.http, method: 'POST', path: `/api/files/file/big-${Date.now()}.bin`,
      agent: false, headers: { Host: `cl-o.${idTag}`, Authorization: `Bearer ${token}`, 'Content-Type': 'application/octet-stream',
        'Content-Length': prefix.length + size, 'X-Forwarded-For': c.clientIp } }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => {
        const secs = Number(process.hrtime.bigint() - started) / 1e9;
        if (res.statusCode !== 201) return reject(new Error(`upload: ${res.statusCode} ${Buffer.concat(chunks)}`));
        resolve(secs);
      });
    });
    req.on('error', reject);
    req.write(prefix);
    createReadStream(file, { highWaterMark: 1 << 20 }).pipe(req);
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const high = '100000000/100000000,1000000000/1000000000,100000000/100000000,1000000000/1000000000';
const c = new Cluster({
  CLOUDILLO_ACCESS_LOG: 'true',
  CLOUDILLO_RATE_GENERAL: high,
  CLOUDILLO_RATE_AUTH: high,
  CLOUDILLO_RATE_LOOKUP: high,
  CLOUDILLO_RATE_ANONYMOUS: high,
  CLOUDILLO_RATE_TENANT: '100000000/100000000',
  CLOUDILLO_LOG_LEVEL: 'info',
  CLOUDILLO_BLOB_MAX_UPLOAD_MB: String(uploadMb + 16),
});
await c.start();
const root = mkdtempSync(path.join(os.tmpdir(), 'bench-files-'));
chmodSync(root, 0o755);  // nginx's workers run as an unprivileged user
const nginx = await startNginx(root);
const rows = [];
let up = {};
try {
  const t = c.createTenant('bench.files.test');
  const token = await c.login(t);
  const host = `cl-o.${t.idTag}`;
  for (const [label, size] of [['16 KiB', 16 << 10], ['1 MiB', 1 << 20]]) {
    const bytes = Buffer.concat(Array.from({ length: Math.ceil(size / 65536) }, (_, i) => block(`bench-${size}`, i, 65536))).subarray(0, size);
    const r = await upload(c, t.idTag, token, `bench-${size}.bin`, bytes);
    if (r.status !== 201) throw new Error(`upload: ${r.status} ${r.text}`);
    const id = r.json.data.fileId;
    writeFileSync(path.join(root, `f-${size}.bin`), bytes, { mode: 0o644 });
    const check = await c.api(t.idTag, 'GET', `/api/files/${id}`, { token });
    if (!check.bytes.equals(bytes)) throw new Error('the gateway served other bytes');
    const warm = wrk(nginx.port, `/f-${size}.bin`, 'localhost');  // warm both
    if (warm.errors > warm.n / 100) throw new Error(`nginx does not serve the file: ${JSON.stringify(warm)}`);
    wrk(c.ports.http, `/api/files/${id}`, host, token);
    const ours = [], theirs = [];
    for (let i = 0; i < reps; i++) {  // turns, so both see the same swings of a shared VM
      theirs.push(wrk(nginx.port, `/f-${size}.bin`, 'localhost'));
      ours.push(wrk(c.ports.http, `/api/files/${id}`, host, token));
      log(JSON.stringify({ size: label, nginx: theirs.at(-1), gateway: ours.at(-1) }));
    }
    const g = median(ours.map((x) => x.mibps)), n = median(theirs.map((x) => x.mibps));
    const pick = (runs, v) => runs.find((x) => x.mibps === v);
    rows.push({ label, gateway: pick(ours, g), nginx: pick(theirs, n), ratio: g / n });
  }

  // Uploads: a file on disk (in the page cache by then), sent `reps` times with a new
  // prefix each time so that every run stores new bytes.
  const file = path.join(root, 'upload.bin');
  const fd = openSync(file, 'w');
  for (let i = 0, left = uploadMb << 20; left > 0; i++, left -= 1 << 20) writeSync(fd, block('bench-upload', i, Math.min(1 << 20, left)));
  closeSync(fd);
  const size = uploadMb << 20;
  const shaTimes = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    execFileSync('sha256sum', [file]);
    shaTimes.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  const upTimes = [];
  const peak = { gateway: 0, blob: 0 };
  const sampler = setInterval(() => {
    for (const name of ['gateway', 'blob']) peak[name] = Math.max(peak[name], c.memory(name).rss);
  }, 20);
  const before = { gateway: c.memory('gateway').rss, blob: c.memory('blob').rss };
  for (let i = 0; i < reps; i++) upTimes.push(await streamFile(c, t.idTag, token, Buffer.from(`run ${i} ${Date.now()}\n`), file, size));
  clearInterval(sampler);
  const hwm = { gateway: c.memory('gateway').peak, blob: c.memory('blob').peak };
  up = { size, sha: median(shaTimes), ours: median(upTimes), before, peak, hwm };
  log(JSON.stringify(up));
} finally {
  nginx.stop();
  await c.stop();
}

const cpuModel = (os.cpus()[0] || {}).model || 'unknown';
console.log(`machine: ${os.cpus().length} cores (${cpuModel}), ${Math.round(os.totalmem() / 2 ** 30)} GiB; ` +
  `wrk -t2 -c${connections} -d${seconds}s on the same machine, medians of ${reps} turns; nginx: 1 worker, sendfile, access log on`);
console.log('| download | gateway MiB/s (requests/s, p50 ms, p99 ms) | nginx MiB/s (requests/s, p50 ms, p99 ms) | gateway ÷ nginx (target ≥ 80%) |');
console.log('|---|---|---|---|');
for (const r of rows) {
  const f = (x) => `${x.mibps.toFixed(1)} (${Math.round(x.rps)}, ${x.p50}, ${x.p99})${x.errors ? `, ${x.errors} errors` : ''}`;
  console.log(`| ${r.label} | ${f(r.gateway)} | ${f(r.nginx)} | ${(r.ratio * 100).toFixed(0)}% |`);
}
console.log();
const upRate = mib(up.size) / up.ours, shaRate = mib(up.size) / up.sha;
console.log(`| upload of ${uploadMb} MiB | MiB/s | ÷ sha256sum (target ≥ 50%) |`);
console.log('|---|---|---|');
console.log(`| POST /api/files/file/… through the gateway | ${upRate.toFixed(1)} | ${(upRate / shaRate * 100).toFixed(0)}% |`);
console.log(`| sha256sum over the same bytes (page cache) | ${shaRate.toFixed(1)} | 100% |`);
console.log();
console.log('| resident memory during the uploads | before | peak sampled every 20 ms | VmHWM (whole run) |');
console.log('|---|---|---|---|');
for (const name of ['gateway', 'blob']) {
  console.log(`| ${name} | ${mib(up.before[name]).toFixed(0)} MiB | ${mib(up.peak[name]).toFixed(0)} MiB | ${mib(up.hwm[name]).toFixed(0)} MiB |`);
}
