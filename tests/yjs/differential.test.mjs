// libs/yjs against the `yjs` package as the oracle, on thousands of random edit
// histories (history.mjs, seeds 1..YJS_SEEDS): merge, diff, state vector and
// re-encoding must give the same bytes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import * as Y from 'yjs';
import { generateHistory } from './history.mjs';

const build = process.env.CLOUDILLO_BUILD_DIR || path.resolve(new URL('../../build', import.meta.url).pathname);
const SEEDS = Number(process.env.YJS_SEEDS || 2000);
const BATCH = 250;

let cli, lines, pending = [];
before(() => {
  cli = spawn(path.join(build, 'libs/yjs/yjs-cli'), [], { stdio: ['pipe', 'pipe', 'inherit'] });
  lines = readline.createInterface({ input: cli.stdout });
  lines.on('line', (l) => pending.shift()(l));
});
after(() => cli.stdin.end());

function call(cmd, ...args) {
  return new Promise((resolve) => {
    pending.push(resolve);
    cli.stdin.write(`${cmd} ${args.map((a) => Buffer.from(a).toString('base64')).join(' ')}\n`);
  });
}
async function ours(cmd, ...args) {
  const line = await call(cmd, ...args);
  if (!line.startsWith('ok')) throw new Error(`${cmd}: ${line}`);
  return new Uint8Array(Buffer.from(line.slice(3), 'base64'));
}
const same = (a, b, what) => assert.equal(Buffer.from(a).toString('hex'), Buffer.from(b).toString('hex'), what);

async function check(seed) {
  const { docs, log, r } = generateHistory(seed);
  const where = `seed ${seed}`;
  for (const u of log) same(await ours('roundtrip', u), u, `${where}: roundtrip`);
  const merged = Y.mergeUpdates(log);
  same(await ours('merge', ...log), merged, `${where}: merge of the log`);
  // Out of order, with duplicates and overlaps: exercises slicing and skips.
  const shuffled = log.filter(() => r() < 0.7).concat(log.filter(() => r() < 0.2)).sort(() => r() - 0.5);
  if (shuffled.length > 0) same(await ours('merge', ...shuffled), Y.mergeUpdates(shuffled), `${where}: merge shuffled`);
  const chunks = [];
  for (let i = 0; i < log.length; i += 7) chunks.push(Y.mergeUpdates(log.slice(i, i + 7)));
  if (chunks.length > 1) same(await ours('merge', ...chunks), Y.mergeUpdates(chunks), `${where}: merge of merges`);
  same(await ours('sv', merged), Y.encodeStateVectorFromUpdate(merged), `${where}: state vector`);
  for (const d of docs) {
    const sv = Y.encodeStateVector(d);
    same(await ours('diff', merged, sv), Y.diffUpdate(merged, sv), `${where}: diff against a client`);
  }
  // A state vector cutting through the middle of items.
  const cut = new Map();
  for (const [client, clock] of Y.decodeStateVector(Y.encodeStateVectorFromUpdate(merged))) cut.set(client, Math.floor(r() * (clock + 1)));
  const cutSv = Y.encodeStateVector(cut);
  same(await ours('diff', merged, cutSv), Y.diffUpdate(merged, cutSv), `${where}: diff mid-item`);
  // And the meaning: our merge builds the same document.
  const a = new Y.Doc();
  Y.applyUpdate(a, await ours('merge', ...log));
  const b = new Y.Doc();
  for (const u of log) Y.applyUpdate(b, u);
  assert.deepEqual(a.toJSON(), b.toJSON(), `${where}: merged document`);
}

for (let start = 1; start <= SEEDS; start += BATCH) {
  const end = Math.min(SEEDS, start + BATCH - 1);
  test(`histories ${start}..${end} agree with yjs byte for byte`, async () => {
    for (let seed = start; seed <= end; seed++) await check(seed);
  });
}

test('every truncation of a real update is an error', async () => {
  const good = Y.encodeStateAsUpdate(generateHistory(7).docs[0]);
  for (let n = 0; n < good.length; n += Math.max(1, Math.floor(good.length / 40))) {
    const line = await call('validate', good.slice(0, n));
    assert.ok(line.startsWith('err'), `truncated at ${n}: ${line}`);
  }
});
