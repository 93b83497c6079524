// Federation benchmarks (issue 10 item 9), printed as markdown:
//   1. the inbox end to end: N POST tokens from a followed peer (signed beforehand
//      with jose) sent to POST /api/inbox over 32 keep-alive connections, timed until
//      every one is verified and stored, against the raw ES384 verify rate of
//      libs/crypto measured in the same run (tools/bench-cli/es384_bench);
//   2. fan-out: one post of a tenant with F followers, all on a second cluster, timed
//      until every follower holds it (skipped with BENCH_FOLLOWERS=0: the inbox alone).
// Both clusters run their default configuration (PostgreSQL with fsync, access log
// and rate limits on) except the federation bucket's numbers, raised as a provider
// raises them for a peer provider's egress address: every delivery here comes from
// one loopback address.
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Cluster, freePort } from '../../tests/e2e/cluster.mjs';
import { TestNode } from '../../tests/e2e/test_node.mjs';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const build = process.env.CLOUDILLO_BUILD_DIR || path.join(root, 'build');
const N = Number(process.env.BENCH_INBOX_TOKENS || 9000);  // long enough that start-up (60 key fetches) weighs little
const F = Number(process.env.BENCH_FOLLOWERS || 1000);
const P = Number(process.env.BENCH_INBOX_PEERS || 60);
const CONNS = Number(process.env.BENCH_INBOX_CONNECTIONS || 32);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (m) => process.stderr.write(`${m}\n`);
const rate = '1000000/1000000,1000000000/1000000,1000000/1000000,1000000000/1000000';
// The provider's configuration: the gateway's access log on (the test clusters turn it off).
const accessLog = { CLOUDILLO_ACCESS_LOG: 'true' };
// Names unique to this run: issuer keys are cached in Redis by (idTag, keyId).
const run = Math.random().toString(36).slice(2, 7);
const ALICE = `alice-${run}.test`, PEER = `peer-${run}.test`;

function sql(cluster, query) {
  return execFileSync('psql', ['-tA', cluster.env.CLOUDILLO_DATABASE_URL, '-c', query], { encoding: 'utf8' }).trim();
}

// One psql session for a tight poll: a psql process per poll cost the machine more CPU
// than the gateway did. Answers the first line of each query's output.
function psqlSession(cluster) {
  const child = spawn('psql', ['-tAqX', cluster.env.CLOUDILLO_DATABASE_URL], { stdio: ['pipe', 'pipe', 'inherit'] });
  const waiting = [];
  let buf = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d) => {
    buf += d;
    for (let i; (i = buf.indexOf('\n')) >= 0; buf = buf.slice(i + 1)) waiting.shift()?.(buf.slice(0, i).trim());
  });
  child.on('exit', (code) => { if (waiting.length) throw new Error(`psql exited (${code}) with queries waiting`); });
  return {
    query: (q) => new Promise((resolve) => { waiting.push(resolve); child.stdin.write(`${q};\n`); }),
    close: () => child.stdin.end(),
  };
}

async function until(what, fn, ms = 600000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await sleep(50);
  }
  throw new Error(`timed out: ${what}`);
}

// The requests go out from tools/bench-cli/http_post_load: a Node client cost a third of
// a core of the machine under test. It runs asynchronously because this process also
// hosts the peers whose keys the inbox fetches. Resolves to the count of answers not 201.
async function postAll(port, host, bodies, conns = 32) {
  if (bodies.some((b) => b.includes('\n'))) throw new Error('postAll: a body spans lines');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'inbox-bench-'));
  try {
    const file = path.join(dir, 'bodies.txt');
    await writeFile(file, `${bodies.join('\n')}\n`);
    const args = [`--port=${port}`, `--host=${host}`, '--path=/api/inbox', `--bodies=${file}`, `--connections=${conns}`, '--expect=201'];
    const out = await new Promise((resolve, reject) => {
      const child = spawn(path.join(build, 'tools/bench-cli/http_post_load'), args, { stdio: ['ignore', 'pipe', 'inherit'] });
      let text = '';
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (d) => { text += d; });
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`http_post_load exited with ${code}`))));
    });
    return JSON.parse(out).failed;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function rawVerifyRate() {
  const out = execFileSync(path.join(build, 'tools/bench-cli/es384_bench'), ['--seconds=1', '--reps=3'], { encoding: 'utf8' });
  const row = out.split('\n').find((l) => l.startsWith('| whole action token'));
  return Number(row.split('|')[5].trim());
}

// A provider's database is not empty: BENCH_HISTORY_ACTIONS rows (default 200,000) of
// 2,000 other tenants, and 2,000 of alice's, as autovacuum would have analyzed them. On
// empty tables PostgreSQL plans the prepared lookups as scans (a table of a few rows is
// cheapest read whole) and keeps those plans until its first autoanalyze, a minute into
// a provider's life and after the end of this bench.
function preloadHistory(cluster, tnId) {
  const n = Number(process.env.BENCH_HISTORY_ACTIONS ?? 200000);
  if (n <= 0) return;
  sql(cluster, `INSERT INTO action.actions (tn_id, action_id, type, issuer, audience, content, visibility, status, key, token, created_at)
    SELECT CASE WHEN g <= 2000 THEN ${tnId} ELSE 1000000 + g % 2000 END, 'a1~history' || md5(g::text), 'POST',
           'h' || (g % 500) || '.history.test', NULL, '"history ' || g || '"', 'F', 'A', NULL,
           'history.' || md5(g::text), now() - make_interval(secs => g)
    FROM generate_series(1, ${n}) g`);
  sql(cluster, 'ANALYZE action.actions; ANALYZE action.inbound');
  log(`history: ${n} actions preloaded and analyzed`);
}

// The tokens come from P peers (jose test nodes), interleaved, so no issuer exceeds the
// inbox's per-issuer limits (issuer_limit.h), which stay at their defaults.
async function inboxBench() {
  const peers = [];
  for (let i = 0; i < P; i++) {
    const peer = await new TestNode(`p${i}-${PEER}`, await freePort()).init();
    await peer.start();
    peers.push(peer);
  }
  const map = peers.map((p) => `cl-o.${p.idTag}=http://127.0.0.1:${p.port}`).join(',');
  // BENCH_INBOX_THREADS: the receiving action service's verifier threads (its default otherwise).
  const threads = process.env.BENCH_INBOX_THREADS ? { CLOUDILLO_INBOX_THREADS: process.env.BENCH_INBOX_THREADS } : {};
  // BENCH_INBOX_NICE: the verifier threads' nice value (CLOUDILLO_INBOX_VERIFIER_NICE; its default otherwise).
  if (process.env.BENCH_INBOX_NICE) threads.CLOUDILLO_INBOX_VERIFIER_NICE = process.env.BENCH_INBOX_NICE;
  const A = new Cluster({ CLOUDILLO_FEDERATION_MAP: map, CLOUDILLO_RATE_FEDERATION: rate, ...accessLog, ...threads });
  await A.start();
  try {
    const alice = A.createTenant(ALICE);
    const token = await A.login(alice);
    for (const peer of peers) {
      const r = await A.api(alice.idTag, 'POST', '/api/actions', { token, body: { type: 'FLLW', audienceTag: peer.idTag } });
      if (r.status !== 201) throw new Error(`FLLW: ${r.status} ${r.text}`);
    }
    log(`signing ${N} tokens of ${P} issuers with jose…`);
    const iat = Math.floor(Date.now() / 1000);
    const sign = async (i) => JSON.stringify({ token: await peers[i % P].sign({ t: 'POST', c: `post ${i}`, iat }) });
    // Warm the issuer key caches and the connections with one token per issuer first.
    const warm = [];
    for (let i = 0; i < P; i++) warm.push(await sign(N + i));
    const bodies = [];
    for (let i = 0; i < N; i++) bodies.push(await sign(i));
    await postAll(A.ports.http, `cl-o.${ALICE}`, warm, 4);
    const ours = `tn_id = ${alice.tnId} AND type = 'POST' AND issuer LIKE '%-${PEER}'`;
    await until('warm-up stored', () => sql(A, `SELECT count(*) FROM action.actions WHERE ${ours}`) === String(P));
    preloadHistory(A, alice.tnId);
    const t0 = process.hrtime.bigint();
    const failed = await postAll(A.ports.http, `cl-o.${ALICE}`, bodies, CONNS);
    const accepted = Number(process.hrtime.bigint() - t0) / 1e9;
    // Done when the queue holds nothing of alice's (each poll one index probe); then
    // the count says whether every token was stored.
    const db = psqlSession(A);
    await until('queue drained', async () => (await db.query(`SELECT count(*) FROM (SELECT 1 FROM action.inbound WHERE tn_id = ${alice.tnId} LIMIT 1) q`)) === '0');
    const stored = Number(process.hrtime.bigint() - t0) / 1e9;
    db.close();
    const count = Number(sql(A, `SELECT count(*) FROM action.actions WHERE ${ours}`));
    if (count !== N + P) throw new Error(`${count - P} of ${N} tokens stored`);
    return { n: bodies.length, failed, acceptRate: bodies.length / accepted, storeRate: bodies.length / stored };
  } finally {
    await A.stop();
    for (const peer of peers) await peer.stop();
  }
}

async function fanoutBench() {
  const [portA, portB] = await Promise.all([freePort(), freePort()]);
  const followers = Array.from({ length: F }, (_, i) => `f${String(i).padStart(4, '0')}-${run}.test`);
  const map = [`cl-o.${ALICE}=http://127.0.0.1:${portA}`, ...followers.map((f) => `cl-o.${f}=http://127.0.0.1:${portB}`)].join(',');
  // The followers' FLLW requests (and the first request of each new host) all come from
  // this one load generator's address.
  const env = { CLOUDILLO_FEDERATION_MAP: map, CLOUDILLO_RATE_FEDERATION: rate, CLOUDILLO_RATE_GENERAL: rate, CLOUDILLO_RATE_LOOKUP: rate, ...accessLog };
  const A = new Cluster({ ...env, CLOUDILLO_HTTP_PORT: String(portA) });
  const B = new Cluster({ ...env, CLOUDILLO_HTTP_PORT: String(portB) });
  await Promise.all([A.start(), B.start()]);
  try {
    const alice = A.createTenant(ALICE);
    const aliceToken = await A.login(alice);
    const list = path.join(B.logDir, 'followers.txt');
    writeFileSync(list, followers.join('\n'));
    const created = B.admin('tenant', 'create-many', list).trim().split('\n').map((l) => l.split('\t'));
    const secrets = B.tokenSecrets();
    log(`${created.length} followers on the second cluster; each sends FLLW…`);
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const t0 = process.hrtime.bigint();
    let next = 0;
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < created.length) {
        const [tn, idTag] = created[next++];
        const token = B.mintToken(tn, { iss: idTag, sub: idTag, r: 'SADM,leader', exp }, secrets);
        const r = await B.api(idTag, 'POST', '/api/actions', { token, body: { type: 'FLLW', audienceTag: ALICE } });
        if (r.status !== 201) throw new Error(`FLLW ${idTag}: ${r.status} ${r.text}`);
      }
    }));
    await until('followers at alice', () => Number(sql(A, 'SELECT count(*) FROM identity.profiles WHERE follower')) >= F);
    const fanIn = Number(process.hrtime.bigint() - t0) / 1e9;
    const t1 = process.hrtime.bigint();
    const r = await A.api(alice.idTag, 'POST', '/api/actions', { token: aliceToken, body: { type: 'POST', content: 'to all of you' } });
    if (r.status !== 201) throw new Error(`POST: ${r.status} ${r.text}`);
    const id = r.json.data.actionId;
    await until('delivered to every follower', () => Number(sql(B, `SELECT count(*) FROM action.actions WHERE action_id = '${id}'`)) >= F);
    const fanOut = Number(process.hrtime.bigint() - t1) / 1e9;
    return { followers: F, fanIn, fanOut };
  } finally {
    await Promise.all([A.stop(), B.stop()]);
  }
}

// This machine's speed drifts by a third within minutes: the raw rate is the mean of
// one measurement (median of three) right before and one right after the inbox part.
const verifyBefore = rawVerifyRate();
const inbox = await inboxBench();
const verifyAfter = rawVerifyRate();
const verify = (verifyBefore + verifyAfter) / 2;
log(`raw verify: ${verifyBefore}/s before, ${verifyAfter}/s after, per core`);
log(`inbox: ${JSON.stringify(inbox)}`);
const fan = F > 0 ? await fanoutBench() : null;
console.log('| measure | result |');
console.log('|---|---|');
console.log(`| libs/crypto VerifyActionToken, one core (mean of before and after) | ${verify.toFixed(0)} tokens/s (${verifyBefore.toFixed(0)}, ${verifyAfter.toFixed(0)}) |`);
console.log(`| POST /api/inbox answered 201 (durably queued), ${inbox.n} tokens of ${P} issuers, ${CONNS} connections | ${inbox.acceptRate.toFixed(0)} tokens/s (${inbox.failed} not 201) |`);
console.log(`| inbox end to end (queued, verified, gated, stored) | ${inbox.storeRate.toFixed(0)} tokens/s = ${(100 * inbox.storeRate / verify).toFixed(0)} % of one core's raw verify |`);
if (fan) console.log(`| fan-in: ${fan.followers} FLLW created on one cluster until all are followers on the other | ${fan.fanIn.toFixed(1)} s (${(fan.followers / fan.fanIn).toFixed(0)} deliveries/s) |`);
if (fan) console.log(`| fan-out: one post to ${fan.followers} followers on the other cluster | ${fan.fanOut.toFixed(2)} s (${(fan.followers / fan.fanOut).toFixed(0)} deliveries/s) |`);
