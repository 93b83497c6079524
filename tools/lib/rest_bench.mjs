// Driver of tools/bench: starts a split cluster (rate limiting and access logs off),
// creates tenants, mints owner tokens, and measures with wrk:
//   GET /api/me/full with the owner's bearer (authenticated, DESIGN "Benchmarked route")
//   GET /api/me (public key publication)
// for 1 and for N tenants, at full load and at half of it, plus the same identity
// call over gRPC directly (grpc_bench) for comparison.
import { spawnSync, execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Cluster } from '../../tests/e2e/cluster.mjs';

const tenantsWanted = Number(process.env.BENCH_TENANTS || 1000);
const seconds = Number(process.env.BENCH_SECONDS || 10);
const connections = Number(process.env.BENCH_CONNECTIONS || 64);
const build = process.env.CLOUDILLO_BUILD_DIR;

const c = new Cluster({ CLOUDILLO_RATE_LIMIT: 'false', CLOUDILLO_ACCESS_LOG: 'false', CLOUDILLO_LOG_LEVEL: 'warn' });
await c.start();
try {
  console.error(`creating ${tenantsWanted} tenants…`);
  const tenants = [];
  for (let i = 0; i < tenantsWanted; i++) {
    const line = c.admin('tenant', 'create', `t${i}.bench.test`).trim();
    tenants.push({ tnId: Number(line.split('\t')[0]), idTag: `t${i}.bench.test` });
  }
  // Owner tokens minted with each tenant's own secret.
  const secrets = c.tokenSecrets();
  const exp = Math.floor(Date.now() / 1000) + 7200;
  for (const t of tenants) {
    t.token = c.mintToken(t.tnId, { exp, iss: t.idTag, r: 'public,follower,supporter,contributor,moderator,leader', sub: t.idTag }, secrets);
  }
  const results = [];
  const wrk = (name, list, urlPath, auth, rate) => {
    const script = path.join(c.logDir, `wrk-${results.length}.lua`);
    const delayMs = rate ? (connections * 1000) / rate : 0;
    writeFileSync(script, `
local hosts = {${list.map((t) => `"cl-o.${t.idTag}"`).join(',')}}
local tokens = {${list.map((t) => `"${auth ? t.token : ''}"`).join(',')}}
local i = 0
request = function()
  i = i + 1
  local k = (i % #hosts) + 1
  local h = { Host = hosts[k] }
  if tokens[k] ~= "" then h["Authorization"] = "Bearer " .. tokens[k] end
  return wrk.format("GET", "${urlPath}", h)
end
${rate ? `delay = function() return ${delayMs.toFixed(3)} end` : ''}
response = function(status, headers, body)
  if status ~= 200 then wrk.thread:set("bad", (wrk.thread:get("bad") or 0) + 1) end
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT rps=%.0f p50=%.3f p90=%.3f p99=%.3f errors=%d non200=%d\\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout, 0))
end
`);
    const out = execFileSync('wrk', ['-t2', `-c${connections}`, `-d${seconds}s`, '-s', script, `http://127.0.0.1:${c.ports.http}`], { encoding: 'utf8' });
    const m = out.match(/RESULT rps=(\d+) p50=([\d.]+) p90=([\d.]+) p99=([\d.]+) errors=(\d+)/);
    const r = { name, rps: Number(m[1]), p50: Number(m[2]), p90: Number(m[3]), p99: Number(m[4]), errors: Number(m[5]) };
    results.push(r);
    console.error(JSON.stringify(r));
    return r;
  };
  for (const [label, list] of [['1 tenant', tenants.slice(0, 1)], [`${tenants.length} tenants`, tenants]]) {
    const full = wrk(`me/full, ${label}, max`, list, '/api/me/full', true);
    wrk(`me/full, ${label}, half load`, list, '/api/me/full', true, full.rps / 2);
    wrk(`me (public), ${label}, max`, list, '/api/me', false);
  }
  for (const [label, list] of [['1 tenant', tenants.slice(0, 1)], [`${tenants.length} tenants`, tenants]]) {
    const r = spawnSync(path.join(build, 'tools/bench-cli/grpc_bench'), [`--addr=127.0.0.1:${c.ports.grpcI}`,
      `--tenants=${list.map((t) => `${t.tnId}:${t.idTag}`).join(',')}`, `--threads=${connections}`, `--seconds=${seconds}`], { encoding: 'utf8' });
    const m = r.stdout.match(/rps=(\d+) p50_ms=([\d.]+) p90_ms=([\d.]+) p99_ms=([\d.]+)/);
    const res = { name: `gRPC Identity.GetMeFull direct, ${label}`, rps: Number(m[1]), p50: Number(m[2]), p90: Number(m[3]), p99: Number(m[4]), errors: /errors=0/.test(r.stdout) ? 0 : 1 };
    results.push(res);
    console.error(JSON.stringify(res));
  }
  const cpu = (os.cpus()[0] || {}).model || 'unknown';
  console.log(`machine: ${os.cpus().length} cores (${cpu}), ${Math.round(os.totalmem() / 2 ** 30)} GiB; wrk -t2 -c${connections} -d${seconds}s on the same machine`);
  console.log('| scenario | requests/s | p50 ms | p90 ms | p99 ms | errors |');
  console.log('|---|---|---|---|---|---|');
  for (const r of results) console.log(`| ${r.name} | ${r.rps} | ${r.p50} | ${r.p90} | ${r.p99} | ${r.errors} |`);
} finally {
  await c.stop();
}
