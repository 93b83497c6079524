// libs/yjs against the `yjs` package as the oracle, on thousands of random edit
// histories (history.mjs, seeds 1..YJS_SEEDS): merge, diff, state vector and
// re-encoding must give the same bytes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import * as Y from 'yjs';
import { generateHistory, rng } from './history.mjs';

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
    // One space before each argument: an empty update is an empty field.
    cli.stdin.write(`${[cmd, ...args.map((a) => Buffer.from(a).toString('base64'))].join(' ')}\n`);
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

// Hand-made inputs: where yjs throws we must answer an error, elsewhere the same bytes.
async function agree(what, cmd, args, oracle) {
  let expected;
  try {
    expected = oracle();
  } catch (e) {
    expected = e;
  }
  const line = await call(cmd, ...args);
  if (expected instanceof Error) {
    assert.ok(line.startsWith('err'), `${what}: yjs throws "${expected.message}", we answer ${line}`);
  } else {
    assert.ok(line.startsWith('ok'), `${what}: yjs answers, we say ${line}`);
    same(Buffer.from(line.slice(3), 'base64'), expected, what);
  }
}
const bytes = (...parts) => new Uint8Array(parts.flat());
// A varUint of `value` (< 128) padded with zero payloads to `n` bytes.
const padded = (value, n) => [0x80 | value, ...Array(n - 2).fill(0x80), 0];
const hi = (() => {
  const d = new Y.Doc();
  d.clientID = 1;
  d.getText('t').insert(0, 'hi');
  return Y.encodeStateAsUpdate(d);
})();
const bye = (() => {
  const d = new Y.Doc();
  d.clientID = 2;
  d.getArray('a').insert(0, [1, 'bye']);
  return Y.encodeStateAsUpdate(d);
})();

test('varints are read as lib0 reads them', async () => {
  const max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
  const cases = {
    'client count padded to 12 bytes': bytes(padded(1, 12), [...hi.slice(1)]),
    'client count padded to 147 bytes': bytes(padded(1, 147), [...hi.slice(1)]),
    'client 2^53 - 1 in nine bytes': bytes([1, 1], max, [0x8f, 0, 0, 0, 1, 0]),
    'client beyond 2^53 - 1 after a continuation': bytes([1, 1], max, [0xff, 0x7f, 0, 0, 1, 0]),
    'truncated varint': bytes([1, 0x81]),
    'varInt in any out of range': bytes([1, 1, 1, 0, 8, 1, 1, 0x74, 1, 125], Array(9).fill(0xff), [1, 0]),
    'string length padded': bytes([1, 1, 1, 0, 4, 1, 1, 0x74], padded(2, 9), [0x68, 0x69, 0]),
  };
  // Where lib0 hands yjs NaN or a number rounded beyond 2^53 - 1, yjs goes on with it
  // (a NaN client count reads no block, a client id is rounded): we refuse those.
  const refused = {
    'client count padded to 148 bytes (NaN)': bytes(padded(1, 148), [...hi.slice(1)]),
    'client beyond 2^53 - 1 in the last byte': bytes([1, 1], max, [0x1f, 0, 0, 1, 0]),
  };
  for (const [what, u] of Object.entries(refused)) {
    assert.doesNotThrow(() => Y.mergeUpdates([u, bye]), what);
    for (const line of [await call('merge', u, bye), await call('validate', u)]) {
      assert.match(line, /^err .*beyond 2\^53 - 1/, what);
    }
  }
  // yjs re-encodes `any` values it read (a padded varInt comes out short), we copy
  // them: accepted alike, but merged bytes differ.
  const padAny = bytes([1, 1, 1, 0, 8, 1, 1, 0x74, 1, 125, 0x85], Array(10).fill(0x80), [0, 0]);
  Y.applyUpdate(new Y.Doc(), padAny);
  assert.equal(await call('validate', padAny), 'ok');
  for (const [what, u] of Object.entries(cases)) {
    await agree(`${what}: merge`, 'merge', [u, bye], () => Y.mergeUpdates([u, bye]));
    await agree(`${what}: diff`, 'diff', [u, bytes([0])], () => Y.diffUpdate(u, bytes([0])));
    await agree(`${what}: state vector`, 'sv', [u], () => Y.encodeStateVectorFromUpdate(u));
  }
});

test('state vectors are read as yjs reads them', async () => {
  const max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
  const inf = [...Array(147).fill(0x80), 1];
  const svs = {
    'clock 2^54 (rounded)': bytes([1, 1], max, [0x1f]),
    'clock 2^53 - 1': bytes([1, 1], max, [0x0f]),
    'clock Infinity': bytes([1, 1], inf),
    'clock NaN': bytes([1, 1], padded(0, 148)),
    'client beyond 2^53 - 1': bytes([1], max, [0x1f, 5]),
    'client 2 at 31, client 1 at 1': bytes([2, 2, 0x1f], [1, 1]),
    'count NaN': bytes(padded(0, 148), [1, 1, 5]),
    'count Infinity': bytes(inf, [1, 1, 5]),
    'clock out of range': bytes([1, 1], max, [0xff, 0x80, 0]),
    'later entry wins': bytes([2, 1, 5, 1, 1]),
    'trailing bytes': bytes([1, 1, 1, 7, 7]),
    'padded clock': bytes([1, 1], padded(1, 30)),
  };
  const merged = Y.mergeUpdates([hi, bye]);
  for (const [what, sv] of Object.entries(svs)) {
    await agree(`${what}: diff`, 'diff', [merged, sv], () => Y.diffUpdate(merged, sv));
  }
});

test('subdocument options: refused exactly where yjs throws', async () => {
  // A ContentDoc (ref 9) in map 'm' with guid 'g', then the options as a lib0 `any`.
  const doc = (opts) => bytes([1, 1, 1, 0, 9, 1, 1, 0x6d, 1, 0x67], opts, [0]);
  const str = (t) => [t.length, ...Buffer.from(t)];
  const values = {
    undefined: [127],
    null: [126],
    number: [125, 5],
    float: [124, 0x3f, 0xc0, 0, 0],
    bigint: [122, 0, 0, 0, 0, 0, 0, 0, 5],
    false: [121],
    true: [120],
    string: [119, ...str('ab')],
    array: [117, 2, 125, 1, 126],
    bytes: [116, 1, 1],
    'empty object': [118, 0],
    'object with meta': [118, 1, ...str('meta'), 118, 1, ...str('a'), 125, 1],
    'gc off, autoLoad, meta': [118, 3, ...str('gc'), 121, ...str('autoLoad'), 120, ...str('meta'), 119, ...str('x')],
  };
  for (const [what, opts] of Object.entries(values)) {
    const u = doc(opts);
    let throws = false;
    try {
      Y.applyUpdate(new Y.Doc(), u);
    } catch {
      throws = true;
    }
    const line = await call('validate', u);
    if (throws) assert.match(line, /^err .*subdocument options/, what);
    else assert.equal(line, 'ok', what);
    await agree(`${what}: merge`, 'merge', [u, bye], () => Y.mergeUpdates([u, bye]));
    await agree(`${what}: diff`, 'diff', [u, bytes([0])], () => Y.diffUpdate(u, bytes([0])));
  }
});

test('zero-length updates and state vectors', async () => {
  const empty = new Uint8Array(0);
  await agree('diff of an empty update', 'diff', [empty, bytes([0])], () => Y.diffUpdate(empty, bytes([0])));
  await agree('diff against an empty state vector', 'diff', [hi, empty], () => Y.diffUpdate(hi, empty));
  await agree('diff of nothing against nothing', 'diff', [empty, empty], () => Y.diffUpdate(empty, empty));
  await agree('state vector of an empty update', 'sv', [empty], () => Y.encodeStateVectorFromUpdate(empty));
  await agree('merge of none', 'merge', [], () => Y.mergeUpdates([]));
  await agree('merge of two empty updates', 'merge', [empty, empty], () => Y.mergeUpdates([empty, empty]));
  await agree('merge of an empty update and one', 'merge', [empty, hi], () => Y.mergeUpdates([empty, hi]));
  await agree('merge of one and an empty update', 'merge', [hi, empty], () => Y.mergeUpdates([hi, empty]));
  assert.throws(() => Y.applyUpdate(new Y.Doc(), empty));
  assert.match(await call('validate', empty), /^err .*unexpected end of array/);
  // yjs hands back a lone update without reading it, an empty one too; we validate it.
  same(Y.mergeUpdates([empty]), empty, 'yjs: merge of one empty update');
  assert.match(await call('merge', empty), /^err /);
  same(await ours('merge', hi), hi, 'merge of one update');
});

test('many tiny updates merged in one call', async () => {
  // Two clients typing into one text, every keystroke an update, delivered shuffled.
  const log = [];
  const docs = [1, 2].map((id) => {
    const d = new Y.Doc();
    d.clientID = id;
    d.on('update', (u) => log.push(u));
    return d;
  });
  const r = rng(99);
  for (let i = 0; i < 1500; i++) {
    const d = docs[i % 2];
    const t = d.getText('t');
    if (t.length > 3 && r() < 0.2) t.delete(Math.floor(r() * t.length), 1);
    else t.insert(Math.floor(r() * (t.length + 1)), 'abc'[i % 3]);
    if (r() < 0.1) Y.applyUpdate(docs[1 - (i % 2)], Y.encodeStateAsUpdate(d));
  }
  const shuffled = log.slice().sort(() => r() - 0.5);
  const merged = await ours('merge', ...shuffled);
  same(merged, Y.mergeUpdates(shuffled), 'one call, against yjs');
  const chunks = [];
  for (let i = 0; i < shuffled.length; i += 100) chunks.push(await ours('merge', ...shuffled.slice(i, i + 100)));
  const chunked = await ours('merge', ...chunks);
  same(chunked, Y.mergeUpdates(chunks), 'merge of chunks, against yjs');
  same(chunked, merged, 'merge of chunks, against one call');
});
