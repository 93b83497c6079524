// Driver of `tools/bench rest`. The authenticated GET /api/me/full through a split
// cluster in its default configuration (rate limits and access log on, PostgreSQL with
// fsync; only the limits' numbers raised so that one load generator's address is not
// refused), side by side in the same run with nginx answering a fixed 300-byte JSON
// from one worker (its access log on too).
//
// CPU per request is the growth of utime+stime (/proc/<pid>/stat) of every server
// process (gateway, identity, access, Redis, every PostgreSQL process; nginx's master
// and worker) divided by the requests answered. wrk shares the machine and is not
// counted.
//
//   BENCH_SECONDS=10 BENCH_CONNECTIONS=32 BENCH_TENANTS=10000 BENCH_REPS=5 tools/bench rest
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Cluster, freePort } from '../../tests/e2e/cluster.mjs';

const seconds = Number(process.env.BENCH_SECONDS || 10);
const connections = Number(process.env.BENCH_CONNECTIONS || 32);
const manyTenants = Number(process.env.BENCH_TENANTS || 10000);
const reps = Number(process.env.BENCH_REPS || 5);
const build = process.env.CLOUDILLO_BUILD_DIR;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => console.error(...a);

// --- CPU accounting ----------------------------------------------------------------------

const tick = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');  // after "(comm) "
    return (Number(fields[11]) + Number(fields[12])) / tick;  // utime, stime
  } catch {
    return 0;  // the process ended: its last reading stands
  }
}

function childrenOf(ppid) {
  const out = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === ppid) out.push(Number(d));
    } catch { /* gone */ }
  }
  return out;
}

// name -> pids, read again at every measurement (PostgreSQL starts backends).
function serverProcesses(cluster, env) {
  const dir = env.CLOUDILLO_TEST_DIR;
  const postmaster = Number(readFileSync(path.join(dir, 'pg/postmaster.pid'), 'utf8').split('\n')[0]);
  const redis = Number(readFileSync(path.join(dir, 'redis/redis.pid'), 'utf8').trim());
  return {
    gateway: [cluster.procs.gateway.pid],
    identity: [cluster.procs.identity.pid],
    access: [cluster.procs.access.pid],
    redis: [redis],
    postgres: [postmaster, ...childrenOf(postmaster)],
  };
}

function snapshot(procs) {
  const out = {};
  for (const [name, pids] of Object.entries(procs)) out[name] = pids.reduce((s, p) => s + cpuSeconds(p), 0);
  return out;
}

// --- load ---------------------------------------------------------------------------------

// wrk over `targets` ({host, token}), paced to `rate` requests/s when given: the
// arguments to run it with, and the parser of what it prints.
// `bust` appends a query that differs on every request, so that no reply is reused
// (the gateway's reply cache keys on the query): the cost of a backend call.
function wrkArgs(port, urlPath, targets, { rate, secs = seconds, conns = connections, bust = false } = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-wrk-'));
  const script = path.join(dir, 'load.lua');
  const delayMs = rate ? (conns * 1000) / rate : 0;
  writeFileSync(script, `
local hosts = {${targets.map((t) => `"${t.host}"`).join(',')}}
local tokens = {${targets.map((t) => `"${t.token || ''}"`).join(',')}}
local counter = 0
local threads = {}
setup = function(thread) thread:set("id", counter); counter = counter + 1; table.insert(threads, thread) end
init = function() n = tonumber(wrk.thread:get("id")) * 7919; s429 = 0; s4xx = 0; s5xx = 0 end
request = function()
  n = n + 1
  local k = (n % #hosts) + 1
  local h = { Host = hosts[k] }
  if tokens[k] ~= "" then h["Authorization"] = "Bearer " .. tokens[k] end
  return wrk.format("GET", "${urlPath}"${bust ? ' .. "?v=" .. n' : ''}, h)
end
${rate ? `delay = function() return ${delayMs.toFixed(3)} end` : ''}
response = function(status)
  if status == 429 then s429 = s429 + 1 elseif status >= 500 then s5xx = s5xx + 1 elseif status >= 400 then s4xx = s4xx + 1 end
end
done = function(summary, latency, requests)
  local a, b, c = 0, 0, 0
  for _, t in ipairs(threads) do a = a + t:get("s429"); b = b + t:get("s4xx"); c = c + t:get("s5xx") end
  io.write(string.format("RESULT n=%d rps=%.1f p50=%.3f p90=%.3f p99=%.3f errors=%d socket=%d s429=%d s4xx=%d s5xx=%d\\n",
    summary.requests, summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(90) / 1000, latency:percentile(99) / 1000, summary.errors.status + summary.errors.connect +
    summary.errors.read + summary.errors.write + summary.errors.timeout, summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout, a, b, c))
end
`);
  return ['-t2', `-c${conns}`, `-d${secs}s`, '-s', script, `http://127.0.0.1:${port}`];
}

function wrkResult(out) {
  const m = out.match(/RESULT n=(\d+) rps=([\d.]+) p50=([\d.]+) p90=([\d.]+) p99=([\d.]+) errors=(\d+) socket=(\d+) s429=(\d+) s4xx=(\d+) s5xx=(\d+)/);
  if (!m) throw new Error(`wrk printed no result:\n${out}`);
  return { n: Number(m[1]), rps: Number(m[2]), p50: Number(m[3]), p90: Number(m[4]), p99: Number(m[5]), errors: Number(m[6]),
    detail: { socket: Number(m[7]), s429: Number(m[8]), s4xx: Number(m[9]), s5xx: Number(m[10]) } };
}

function wrk(...a) {
  return wrkResult(execFileSync('wrk', wrkArgs(...a), { encoding: 'utf8' }));
}

// wrk paces a closed loop: each connection waits its delay after every answer, so the
// rate reached falls short of the one asked by the answers' own time. A 3-second run
// measures the shortfall; the rate to ask for so that `rate` is reached.
function calibrated(port, urlPath, targets, rate) {
  const probe = wrk(port, urlPath, targets, { rate, secs: 3 });
  return rate * Math.min(2, rate / Math.max(1, probe.rps));
}

// The same without blocking Node's event loop (the password storm runs on it).
function wrkAsync(...a) {
  return new Promise((resolve, reject) => {
    execFile('wrk', wrkArgs(...a), { encoding: 'utf8' }, (err, out) => (err ? reject(err) : resolve(wrkResult(out))));
  });
}

async function measure(name, procs, run) {
  const before = snapshot(procs);
  const r = await run();
  const after = snapshot(procs);
  const cpu = {};
  let total = 0;
  for (const k of Object.keys(after)) {
    cpu[k] = ((after[k] - before[k]) * 1e6) / Math.max(1, r.n);
    total += cpu[k];
  }
  const row = { name, ...r, cpuUs: total, cpu };
  log(JSON.stringify(row));
  return row;
}

// The run with the median CPU per request, under a new name.
function median(runs, name) {
  const sorted = [...runs].sort((a, b) => a.cpuUs - b.cpuUs);
  return { ...sorted[Math.floor(sorted.length / 2)], name };
}

// --- nginx ---------------------------------------------------------------------------------

const kJson = JSON.stringify({ data: { idTag: 'demo.localhost', name: 'Demo', type: 'person', keys: [{ keyId: '261130', publicKey: 'MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAExHPMnSnndjeQb/Y+eOpu1iOvMOgEdTpjsZP8R55N7o6fo0CIs5Wk9pNu+8tccoU2' }] }, time: '2026-11-30T10:41:22Z', reqId: 'vC737f2u' }).slice(0, 300);

async function startNginx() {
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
  server {
    listen 127.0.0.1:${port};
    location / { default_type application/json; return 200 '${kJson}'; }
  }
}
`);
  execFileSync('nginx', ['-c', path.join(dir, 'nginx.conf')]);
  await sleep(300);
  const master = Number(readFileSync(path.join(dir, 'nginx.pid'), 'utf8').trim());
  return { port, dir, procs: { nginx: [master, ...childrenOf(master)] }, stop: () => spawnSync('nginx', ['-c', path.join(dir, 'nginx.conf'), '-s', 'stop']) };
}

// --- the storm of wrong passwords ------------------------------------------------------------

// Keeps `concurrency` wrong-password logins in flight against `tenant` until stopped,
// each from its own address so that bans and per-address limits do not cut it short.
function passwordStorm(cluster, tenant, concurrency) {
  let running = true, sent = 0;
  const statuses = {};
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const one = (i) => new Promise((resolve) => {
    const body = JSON.stringify({ idTag: tenant.idTag, password: `wrong-${sent}` });
    const req = http.request({ host: '127.0.0.1', port: cluster.ports.http, method: 'POST', path: '/api/auth/login', agent,
      headers: { Host: `cl-o.${tenant.idTag}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body),
        'X-Forwarded-For': `10.${(sent >> 16) & 255}.${(sent >> 8) & 255}.${sent & 255}` } }, (res) => {
      res.resume();
      res.on('end', () => { statuses[res.statusCode] = (statuses[res.statusCode] || 0) + 1; resolve(); });
    });
    sent++;
    req.on('error', () => resolve());
    req.end(body);
  });
  const loops = Array.from({ length: concurrency }, async (_, i) => { while (running) await one(i); });
  return { stop: async () => { running = false; await Promise.all(loops); agent.destroy(); return { sent, statuses }; } };
}

// One request for every tenant (32 in flight), so that the measured runs see no first
// contact: a tenant's first request fetches its directory entry, token secrets and
// profile from the services, which is a cold start, not the steady state measured.
async function warmEvery(cluster, tenants, urlPath) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  let next = 0, failed = 0;
  const one = (t) => new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port: cluster.ports.http, path: urlPath, agent,
      headers: { Host: t.host, Authorization: `Bearer ${t.token}` } }, (res) => {
      res.resume();
      res.on('end', () => { if (res.statusCode !== 200) failed++; resolve(); });
    });
    req.on('error', () => { failed++; resolve(); });
    req.end();
  });
  const started = Date.now();
  await Promise.all(Array.from({ length: 32 }, async () => { while (next < tenants.length) await one(tenants[next++]); }));
  agent.destroy();
  log(`first contact with ${tenants.length} tenants: ${((Date.now() - started) / 1000).toFixed(1)} s, ${failed} not 200`);
}

// --- main ------------------------------------------------------------------------------------

const high = '100000000/100000000,1000000000/1000000000,100000000/100000000,1000000000/1000000000';
const c = new Cluster({
  CLOUDILLO_ACCESS_LOG: 'true',
  CLOUDILLO_RATE_GENERAL: high,
  CLOUDILLO_RATE_AUTH: high,
  CLOUDILLO_RATE_LOOKUP: high,
  CLOUDILLO_RATE_ANONYMOUS: high,
  CLOUDILLO_RATE_TENANT: '100000000/100000000',
  CLOUDILLO_LOGIN_FAILURE_DELAY_MS: '1000',  // the default (the test harness shortens it)
  CLOUDILLO_LOG_LEVEL: 'info',
});
await c.start();
const env = Object.fromEntries(readFileSync(process.env.CLOUDILLO_TEST_ENV_FILE, 'utf8').split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
const nginx = await startNginx();
const rows = [];
let max1, maxN, pairs = [];
try {
  log(`creating ${manyTenants} tenants…`);
  const list = path.join(c.logDir, 'tenants.txt');
  writeFileSync(list, Array.from({ length: manyTenants }, (_, i) => `t${i}.bench.test`).join('\n'));
  const created = c.admin('tenant', 'create-many', list).trim().split('\n').map((l) => l.split('\t'));
  const secrets = c.tokenSecrets();
  const exp = Math.floor(Date.now() / 1000) + 7200;
  const tenants = created.map(([tn, idTag]) => ({
    host: `cl-o.${idTag}`, idTag, tnId: Number(tn),
    token: c.mintToken(Number(tn), { exp, iss: idTag, r: 'public,follower,supporter,contributor,moderator,leader', sub: idTag }, secrets),
  }));
  const procs = serverProcesses(c, env);
  const one = tenants.slice(0, 1);

  rows.push(await measure('nginx, fixed 300-byte JSON, max', nginx.procs, () => wrk(nginx.port, '/', [{ host: 'localhost' }])));
  await warmEvery(c, tenants, '/api/me/full');
  wrk(c.ports.http, '/api/me/full', tenants, { secs: 3 });
  // One tenant and all of them take turns, `reps` times each, and the median run of
  // each stands: on a shared 2-core VM one run swings by ±20%, and turns expose both
  // to the same swings.
  const oneRuns = [], manyRuns = [];
  for (let i = 0; i < reps; i++) {
    oneRuns.push(await measure(`GET /api/me/full, 1 tenant, max (run ${i + 1})`, procs, () => wrk(c.ports.http, '/api/me/full', one)));
    manyRuns.push(await measure(`GET /api/me/full, ${manyTenants} tenants, max (run ${i + 1})`, procs,
      () => wrk(c.ports.http, '/api/me/full', tenants)));
  }
  pairs = oneRuns.map((r, i) => manyRuns[i].cpuUs / r.cpuUs);
  max1 = median(oneRuns, `GET /api/me/full, 1 tenant, max (median of ${reps})`);
  maxN = median(manyRuns, `GET /api/me/full, ${manyTenants} tenants, max (median of ${reps})`);
  rows.push(max1, maxN);
  const half1 = calibrated(c.ports.http, '/api/me/full', one, max1.rps / 2);
  rows.push(await measure('GET /api/me/full, 1 tenant, half of max', procs,
    () => wrk(c.ports.http, '/api/me/full', one, { rate: half1 })));
  const halfN = calibrated(c.ports.http, '/api/me/full', tenants, maxN.rps / 2);
  rows.push(await measure(`GET /api/me/full, ${manyTenants} tenants, half of max`, procs,
    () => wrk(c.ports.http, '/api/me/full', tenants, { rate: halfN })));
  rows.push(await measure('breakdown: GET /api/me/full, 1 tenant, max, every reply fetched from identity', procs,
    () => wrk(c.ports.http, '/api/me/full', one, { bust: true })));
  rows.push(await measure('nginx, fixed 300-byte JSON, max (again)', nginx.procs, () => wrk(nginx.port, '/', [{ host: 'localhost' }])));

  // Another tenant's latency while 200 wrong-password logins are in flight.
  const victim = tenants.slice(1, 2), target = tenants[2];
  const paced = { rate: 1000, conns: 8 };
  rows.push(await measure('GET /api/me/full, other tenant, 1000/s, quiet', procs, () => wrk(c.ports.http, '/api/me/full', victim, paced)));
  const storm = passwordStorm(c, target, 200);
  await sleep(1000);
  rows.push(await measure('GET /api/me/full, other tenant, 1000/s, 200 wrong-password logins in flight', procs,
    () => wrkAsync(c.ports.http, '/api/me/full', victim, paced)));
  const result = await storm.stop();
  log(`storm: ${result.sent} logins, statuses ${JSON.stringify(result.statuses)}`);
  rows[rows.length - 1].storm = result;
} finally {
  nginx.stop();
  await c.stop();
}

const ngx = rows.filter((r) => r.name.startsWith('nginx'));
const ngxCpu = ngx.reduce((s, r) => s + r.cpuUs, 0) / ngx.length;
const cpuModel = (os.cpus()[0] || {}).model || 'unknown';
console.log(`machine: ${os.cpus().length} cores (${cpuModel}), ${Math.round(os.totalmem() / 2 ** 30)} GiB; ` +
  `wrk -t2 -c${connections} -d${seconds}s on the same machine; nginx CPU/request ${ngxCpu.toFixed(1)} µs (mean of two runs)`);
console.log(`${manyTenants} tenants against 1: ${(maxN.cpuUs / max1.cpuUs).toFixed(2)}× the CPU per request, ` +
  `${(maxN.rps / max1.rps).toFixed(2)}× the requests/s (medians); CPU ratio of each pair of turns: ` +
  pairs.map((x) => x.toFixed(2)).join(', '));
console.log('| scenario | requests/s | p50 ms | p99 ms | errors | CPU µs/request (× nginx) | gateway | identity | access | Redis | PostgreSQL |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  const c = r.cpu;
  const parts = r.name.startsWith('nginx') ? ['', '', '', '', ''] :
    [c.gateway, c.identity, c.access, c.redis, c.postgres].map((v) => v.toFixed(1));
  console.log(`| ${r.name} | ${Math.round(r.rps)} | ${r.p50} | ${r.p99} | ${r.errors} | ${r.cpuUs.toFixed(1)} (${(r.cpuUs / ngxCpu).toFixed(1)}×) | ${parts.join(' | ')} |`);
}
