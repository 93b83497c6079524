// Yjs codec benchmark (tools/bench): libs/yjs against the yjs package, same machine,
// same run, on real editing traces. Prints a markdown table.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildLog } from './trace_log.mjs';

const here = path.dirname(new URL(import.meta.url).pathname);
const build = process.env.CLOUDILLO_BUILD_DIR || path.resolve(here, '../../build');
const traces = path.resolve(here, '../../../shared/testdata/editing-traces');
if (!existsSync(traces)) {
  console.log('editing traces absent (../shared/testdata): yjs benchmark skipped');
  process.exit(0);
}
const dir = mkdtempSync(path.join(os.tmpdir(), 'yjs-bench-'));
const parse = (line) => Object.fromEntries(line.trim().split(' ').map((kv) => kv.split('=')).map(([k, v]) => [k, Number(v)]));
console.log('| trace | updates | log MB | impl | merge s | merge MB/s | merge updates/s | 100 diffs s | peak RSS MB |');
console.log('|---|---|---|---|---|---|---|---|---|');
const ratios = [];
for (const name of ['automerge-paper', 'seph-blog1']) {
  const log = path.join(dir, `${name}.log`);
  const info = buildLog(path.join(traces, `${name}.json.gz`), log);
  const res = {};
  res.cpp = parse(execFileSync(path.join(build, 'libs/yjs/yjs-cli'), ['bench', log, '64'], { encoding: 'utf8' }));
  res.js = parse(execFileSync(process.execPath, [path.join(here, 'bench_yjs.mjs'), log, '64'], { encoding: 'utf8' }));
  const identical = Buffer.compare(readFileSync(`${log}.merged.cc`), readFileSync(`${log}.merged.js`)) === 0;
  for (const [impl, r] of Object.entries(res)) {
    const mb = r.input_bytes / 2 ** 20;
    console.log(`| ${name} | ${r.updates} | ${mb.toFixed(1)} | ${impl === 'cpp' ? 'libs/yjs (C++)' : `yjs ${JSON.parse(readFileSync(path.resolve(here, '../node_modules/yjs/package.json'))).version} (Node ${process.version})`} | ${r.merge_s.toFixed(3)} | ${(mb / r.merge_s).toFixed(1)} | ${Math.round(r.updates / r.merge_s)} | ${r.diff_s.toFixed(3)} | ${(r.maxrss_kb / 1024).toFixed(0)} |`);
  }
  ratios.push(`${name}: libs/yjs merging all ${res.cpp.updates} updates in one call ${res.cpp.one_call_merge_s.toFixed(3)} s vs ${res.cpp.merge_s.toFixed(3)} s in chunks of 64 (peak RSS ${(res.cpp.one_call_maxrss_kb / 1024).toFixed(0)} MB with it); bytes identical: ${res.cpp.one_call_identical === 1}`);
  ratios.push(`${name}: merge ${(res.js.merge_s / res.cpp.merge_s).toFixed(1)}x, diff ${(res.js.diff_s / res.cpp.diff_s).toFixed(1)}x faster, peak memory ${(res.js.maxrss_kb / res.cpp.maxrss_kb).toFixed(1)}x lower; merged bytes identical: ${identical}`);
}
console.log('');
for (const r of ratios) console.log(r);
