// The same merge-and-diff workload as `yjs-cli bench` with the yjs package, in its
// own process so that peak memory is comparable: merge the log as a tree of merges
// of at most 64 updates each, then answer 100 clients' state vectors with diffUpdate.
import { readFileSync, writeFileSync } from 'node:fs';
import * as Y from 'yjs';

const [file, chunkArg] = process.argv.slice(2);
const chunk = Number(chunkArg || 64);
const readLog = (f) => {
  const data = readFileSync(f);
  const out = [];
  for (let pos = 0; pos + 4 <= data.length;) {
    const len = data.readUInt32LE(pos);
    out.push(new Uint8Array(data.buffer, data.byteOffset + pos + 4, len));
    pos += 4 + len;
  }
  return [out, data.length];
};
const [updates, inputBytes] = readLog(file);
const [svs] = readLog(`${file}.svs`);
let t0 = process.hrtime.bigint();
let level = updates;
while (level.length > 1) {
  const next = [];
  for (let i = 0; i < level.length; i += chunk) next.push(Y.mergeUpdates(level.slice(i, i + chunk)));
  level = next;
}
const merged = level[0];
const mergeS = Number(process.hrtime.bigint() - t0) / 1e9;
t0 = process.hrtime.bigint();
let diffBytes = 0;
for (const sv of svs) diffBytes += Y.diffUpdate(merged, sv).length;
const diffS = Number(process.hrtime.bigint() - t0) / 1e9;
writeFileSync(`${file}.merged.js`, merged);
console.log(`updates=${updates.length} input_bytes=${inputBytes} merged_bytes=${merged.length} merge_s=${mergeS.toFixed(4)} diff_s=${diffS.toFixed(4)} diff_bytes=${diffBytes} maxrss_kb=${process.resourceUsage().maxRSS}`);
