// The monitoring bundle (deploy/mixin): generated files up to date, promtool checks and
// unit tests, every alert complete and tested, runbooks for every alert, metric names
// that the services export (or that docs/operations.md promises for services being
// written), no tenant or remote-host label anywhere, a dashboard per service.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { root, serviceList } from './lib.mjs';

const mixin = path.join(root, 'deploy/mixin');
const rulesFile = path.join(mixin, 'generated/prometheus-rules.yaml');
const rules = parseYaml(readFileSync(rulesFile, 'utf8'));
const alerts = rules.groups.flatMap((g) => g.rules.filter((r) => r.alert));
const records = rules.groups.flatMap((g) => g.rules.filter((r) => r.record));
const dashDir = path.join(mixin, 'generated/dashboards');
const dashboards = readdirSync(dashDir).map((f) => [f, JSON.parse(readFileSync(path.join(dashDir, f), 'utf8'))]);
const exprsOfDashboards = dashboards.flatMap(([f, d]) => d.panels.flatMap((p) => p.targets.map((t) => [f, t.expr])));

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: root });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

test('the generated rules and dashboards are up to date with the jsonnet (tools/mixin --check)', () => {
  run(path.join(root, 'tools/mixin'), ['--check']);
});

test('promtool check rules accepts the rules', () => {
  assert.match(run('promtool', ['check', 'rules', rulesFile]), /SUCCESS/);
});

test('promtool test rules: the unit tests pass', () => {
  assert.match(run('promtool', ['test', 'rules', path.join(mixin, 'tests/rules_test.yaml')]), /SUCCESS/);
});

test('every alert has severity, summary, description and a runbook that exists', () => {
  const runbooks = readFileSync(path.join(root, 'docs/runbooks.md'), 'utf8');
  const anchors = new Set([...runbooks.matchAll(/^## (.+)$/gm)].map((m) => m[1].trim().toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-')));
  assert.ok(alerts.length >= 15);
  for (const a of alerts) {
    assert.ok(['critical', 'warning', 'info'].includes(a.labels?.severity), `${a.alert}: severity`);
    assert.ok(a.annotations?.summary, `${a.alert}: summary`);
    assert.ok(a.annotations?.description, `${a.alert}: description`);
    const m = /docs\/runbooks\.md#(.+)$/.exec(a.annotations?.runbook_url || '');
    assert.ok(m, `${a.alert}: runbook_url ${a.annotations?.runbook_url}`);
    assert.ok(anchors.has(m[1]), `${a.alert}: docs/runbooks.md has no section #${m[1]}`);
  }
});

test('every alert (and each of its severities) fires in a promtool unit test', () => {
  const tests = parseYaml(readFileSync(path.join(mixin, 'tests/rules_test.yaml'), 'utf8')).tests;
  const fired = new Set();
  for (const t of tests) {
    for (const a of t.alert_rule_test || []) for (const e of a.exp_alerts || []) fired.add(`${a.alertname}/${e.exp_labels.severity}`);
  }
  for (const a of alerts) assert.ok(fired.has(`${a.alert}/${a.labels.severity}`), `no test fires ${a.alert} (${a.labels.severity})`);
});

// Metric names: exported by the C++ services today, promised in docs/operations.md for
// the services being written, or from Kubernetes' own exporters.
function exportedMetrics() {
  const out = execFileSync('grep', ['-rhoE', '"cloudillo_[a-z0-9_]+"', '--include=*.cc', '--include=*.h', 'libs', 'services'], { cwd: root, encoding: 'utf8' });
  return new Set(out.split('\n').filter(Boolean).map((s) => s.slice(1, -1)));
}
function promisedMetrics() {
  const doc = readFileSync(path.join(root, 'docs/operations.md'), 'utf8');
  const section = doc.split(/^## Metrics$/m)[1].split(/^## /m)[0].split(/^Promised by /m)[1];
  return new Set([...section.matchAll(/^\| `(cloudillo_[a-z0-9_]+)`/gm)].map((m) => m[1]));
}
function metricsIn(expr) {
  const clean = expr.replace(/"[^"]*"/g, '""').replace(/\{[^}]*\}/g, '{}').replace(/\[[^\]]*\]/g, '[]')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set();
  for (const m of clean.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*(?!\s*\()/g)) {
    const after = clean.slice(m.index + m[0].length);
    if (/^[a-zA-Z0-9_:]/.test(after)) continue;  // a prefix of a longer name cut by the lookahead
    if (!['and', 'or', 'unless', 'bool', 'offset'].includes(m[0])) names.add(m[0]);
  }
  return [...names];
}

test('rules and dashboards use only metrics the services export or docs/operations.md promises', () => {
  const exported = exportedMetrics();
  const promised = promisedMetrics();
  assert.ok(exported.has('cloudillo_http_requests_total') && exported.has('cloudillo_grpc_server_calls_total'));
  const recorded = new Set(records.map((r) => r.record));
  const known = (n) => {
    const base = n.replace(/_(bucket|count|sum)$/, '');
    return exported.has(n) || exported.has(base) || promised.has(n) || promised.has(base) || recorded.has(n) ||
      n === 'up' || n.startsWith('kube_') || n.startsWith('kubelet_');
  };
  const all = [...rules.groups.flatMap((g) => g.rules.map((r) => [r.alert || r.record, r.expr])), ...exprsOfDashboards];
  for (const [where, expr] of all) {
    for (const n of metricsIn(expr)) assert.ok(known(n), `${where}: unknown metric ${n}`);
  }
  // What is promised and already exported is no promise: keep the table honest.
  for (const n of promised) assert.ok(!exported.has(n), `${n} is exported now: move it to the exported table`);
});

test('no rule or dashboard query groups or selects by a tenant or remote host', () => {
  const forbidden = /\b(tenant|tn_id|tnid|id_tag|idtag|host|remote|peer|user)\b/i;
  const all = [...rules.groups.flatMap((g) => g.rules.map((r) => [r.alert || r.record, r.expr])), ...exprsOfDashboards];
  for (const [where, expr] of all) {
    for (const m of expr.matchAll(/\b(by|without)\s*\(([^)]*)\)/g)) assert.ok(!forbidden.test(m[2]), `${where}: ${m[0]}`);
    for (const m of expr.matchAll(/\{([^}]*)\}/g)) {
      for (const label of m[1].split(',').map((s) => s.split(/[=!~]/)[0].trim())) assert.ok(!forbidden.test(label), `${where}: selects ${label}`);
    }
  }
  for (const [f, d] of dashboards) for (const p of d.panels) for (const t of p.targets) assert.ok(!/\{\{\s*(tenant|tn_id|id_tag|host)\s*\}\}/.test(t.legendFormat), `${f}`);
});

test('a dashboard for every service, and every service in the mixin config', () => {
  const names = new Set(dashboards.map(([f]) => f));
  const config = readFileSync(path.join(mixin, 'config.libsonnet'), 'utf8');
  for (const s of serviceList()) {
    assert.ok(names.has(`cloudillo-${s}.json`), `no dashboard for ${s}`);
    assert.match(config, new RegExp(`'${s}'`), `deploy/mixin/config.libsonnet services lacks ${s}`);
  }
  for (const [f, d] of dashboards) {
    assert.ok(d.uid && d.title && d.panels.length > 0, f);
    const ids = d.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, `${f}: duplicate panel ids`);
    for (const p of d.panels) for (const t of p.targets) if (!/cloudillo:/.test(t.expr)) assert.match(t.expr, /namespace="\$namespace"/, `${f}: ${p.title}`);
  }
});
