// The Helm chart: lint, render every ci/*-values.yaml, validate every object against the
// Kubernetes, prometheus-operator and cert-manager schemas, and check the rules a
// provider relies on (security context, probes, resources, labels, one Deployment,
// Service, PDB, NetworkPolicy and ServiceMonitor per service, egress to the internet only
// for action and blob, and access for the cross-node exchange (it fetches issuer keys and
// calls peers' /api/auth/access-token, DESIGN "access"), secrets that survive upgrades, migrations before pods).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { parse as parseYaml } from 'yaml';
import { helm, helmAsync, render, values, ciValues, monitoringApis, serviceList, byKind, component, chart } from './lib.mjs';

const require = createRequire(import.meta.url);
const services = serviceList();

// apiVersion + kind -> the model class that validates it.
function modelFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : [null, apiVersion];
  const candidates = [];
  if (group === 'monitoring.coreos.com') candidates.push(`@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`);
  else if (group === 'cert-manager.io') candidates.push(`@kubernetes-models/cert-manager/${group}/${version}/${kind}`);
  else candidates.push(`kubernetes-models/${group ? `${group}/` : ''}${version}/${kind}`);
  for (const c of candidates) {
    try { return require(c)[kind]; } catch { /* next */ }
  }
  return undefined;
}

test('every ci values file exists for the three provider shapes', () => {
  assert.ok(ciValues.length >= 3, `ci values: ${ciValues}`);
});

for (const file of ciValues) {
  test(`helm lint --strict with ${file}`, () => {
    const r = helm(['lint', '--strict', '.', '-f', path.join('ci', file)], { allowFail: true });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  test(`${file}: every rendered object is valid against its schema`, () => {
    const objs = render(file, monitoringApis);
    assert.ok(objs.length > 20);
    for (const o of objs) {
      const Model = modelFor(o.apiVersion, o.kind);
      assert.ok(Model, `no schema for ${o.apiVersion} ${o.kind}`);
      try {
        new Model(o).validate();
      } catch (e) {
        assert.fail(`${o.kind} ${o.metadata.name}: ${e.message}`);
      }
    }
  });

  test(`${file}: pods run non-root, read-only, without capabilities or a service-account token`, () => {
    const objs = render(file, monitoringApis);
    const pods = [
      ...byKind(objs, 'Deployment').map((d) => [d.metadata.name, d.spec.template.spec]),
      ...byKind(objs, 'Job').map((j) => [j.metadata.name, j.spec.template.spec]),
      ...byKind(objs, 'Pod').map((p) => [p.metadata.name, p.spec]),
      ...byKind(objs, 'CronJob').map((c) => [c.metadata.name, c.spec.jobTemplate.spec.template.spec]),
    ];
    assert.ok(pods.length > 0);
    for (const [name, spec] of pods) {
      assert.equal(spec.automountServiceAccountToken, false, `${name}: service-account token mounted`);
      assert.equal(spec.securityContext.runAsNonRoot, true, name);
      assert.equal(spec.securityContext.seccompProfile.type, 'RuntimeDefault', name);
      assert.ok(!spec.hostNetwork && !spec.hostPID && !spec.hostIPC, name);
      for (const c of [...(spec.initContainers || []), ...spec.containers]) {
        const sc = c.securityContext;
        assert.ok(sc, `${name}/${c.name}: no securityContext`);
        assert.equal(sc.readOnlyRootFilesystem, true, `${name}/${c.name}: writable root`);
        assert.equal(sc.allowPrivilegeEscalation, false, `${name}/${c.name}`);
        assert.equal(sc.runAsNonRoot, true, `${name}/${c.name}`);
        assert.ok(sc.runAsUser > 0, `${name}/${c.name}: runs as root`);
        assert.deepEqual(sc.capabilities.drop, ['ALL'], `${name}/${c.name}`);
        assert.ok(!sc.capabilities.add, `${name}/${c.name}: adds capabilities`);
        assert.equal(sc.seccompProfile.type, 'RuntimeDefault', `${name}/${c.name}`);
        assert.ok(c.resources?.requests?.cpu && c.resources?.requests?.memory, `${name}/${c.name}: no requests`);
        assert.ok(c.resources?.limits?.memory, `${name}/${c.name}: no memory limit`);
      }
    }
  });

  test(`${file}: every service has probes on /healthz and /readyz, labels, spread and a graceful stop`, () => {
    const objs = render(file, monitoringApis);
    for (const d of byKind(objs, 'Deployment')) {
      const spec = d.spec.template.spec;
      const [c] = spec.containers;
      const opsPort = c.ports.find((p) => p.name === 'ops');
      assert.ok(opsPort, `${d.metadata.name}: no ops port`);
      assert.equal(c.livenessProbe.httpGet.path, '/healthz');
      assert.equal(c.startupProbe.httpGet.path, '/healthz');
      assert.equal(c.readinessProbe.httpGet.path, '/readyz');
      for (const p of [c.livenessProbe, c.readinessProbe, c.startupProbe]) assert.equal(p.httpGet.port, 'ops');
      const env = Object.fromEntries(c.env.map((e) => [e.name, e.value]));
      assert.equal(env.CLOUDILLO_OPS_ADDR, `0.0.0.0:${opsPort.containerPort}`);
      for (const l of ['app.kubernetes.io/name', 'app.kubernetes.io/instance', 'app.kubernetes.io/version',
        'app.kubernetes.io/managed-by', 'app.kubernetes.io/component', 'app.kubernetes.io/part-of', 'helm.sh/chart']) {
        assert.ok(d.metadata.labels[l], `${d.metadata.name}: label ${l}`);
        assert.ok(d.spec.template.metadata.labels[l], `${d.metadata.name}: pod label ${l}`);
      }
      for (const [k, v] of Object.entries(d.spec.selector.matchLabels)) assert.equal(d.spec.template.metadata.labels[k], v);
      assert.ok(!('helm.sh/chart' in d.spec.selector.matchLabels), 'selector must not change across versions');
      assert.ok(spec.topologySpreadConstraints.some((t) => t.topologyKey === 'kubernetes.io/hostname'), d.metadata.name);
      const drain = Number(env.CLOUDILLO_DRAIN_DELAY_SECONDS) + Number(env.CLOUDILLO_SHUTDOWN_GRACE_SECONDS);
      assert.ok(spec.terminationGracePeriodSeconds > drain, `${d.metadata.name}: killed before it drains`);
      assert.equal(d.spec.strategy.rollingUpdate.maxUnavailable, 0);
      // Internal gRPC: mutual TLS material always mounted; listeners on all pod addresses.
      for (const v of ['CLOUDILLO_GRPC_CA', 'CLOUDILLO_GRPC_CERT', 'CLOUDILLO_GRPC_KEY']) assert.ok(env[v], `${d.metadata.name}: ${v}`);
      if (c.ports.some((p) => p.name === 'grpc')) assert.match(env.CLOUDILLO_GRPC_LISTEN, /^0\.0\.0\.0:\d+$/);
      // Secrets never as plain values.
      for (const e of c.env) {
        if (/(PASSWORD|SECRET_KEY|TOKEN|MASTER_KEY|ACCESS_KEY)$/.test(e.name)) assert.ok(e.valueFrom?.secretKeyRef, `${d.metadata.name}: ${e.name} is a plain value`);
      }
      assert.ok(!/:[^@/]*@/.test(env.CLOUDILLO_DATABASE_URL || ''), 'the database URL carries no password');
    }
  });

  test(`${file}: one Deployment, Service, PDB, NetworkPolicy, ServiceMonitor (and HPA, Certificate) per service`, () => {
    const v = values(file);
    const objs = render(file, monitoringApis);
    const enabled = services.filter((s) => v.services[s]?.enabled);
    const count = (kind, s) => byKind(objs, kind).filter((o) => component(o) === s).length;
    for (const s of enabled) {
      assert.equal(count('Deployment', s), 1, `${s}: Deployment`);
      assert.ok(byKind(objs, 'Service').some((o) => o.metadata.name === `rel-cloudillo-${s}`), `${s}: Service`);
      assert.equal(count('PodDisruptionBudget', s), 1, `${s}: PDB`);
      assert.equal(count('NetworkPolicy', s), v.networkPolicy.enabled ? 1 : 0, `${s}: NetworkPolicy`);
      assert.equal(count('ServiceMonitor', s), v.metrics.serviceMonitor.enabled ? 1 : 0, `${s}: ServiceMonitor`);
      assert.equal(count('HorizontalPodAutoscaler', s), v.services[s].autoscaling.enabled ? 1 : 0, `${s}: HPA`);
      assert.equal(count('Certificate', s), v.internalTls.mode === 'certManager' ? 1 : 0, `${s}: Certificate`);
      const d = byKind(objs, 'Deployment').find((o) => component(o) === s);
      assert.ok(d.spec.template.spec.containers[0].command[0].endsWith(`/cloudillo-${s}`));
      if (v.services[s].autoscaling.enabled) assert.equal(d.spec.replicas, undefined, `${s}: replicas fight the HPA`);
    }
  });

  test(`${file}: network policies admit only what each service needs`, () => {
    const v = values(file);
    if (!v.networkPolicy.enabled) return;
    const objs = render(file, monitoringApis);
    for (const np of byKind(objs, 'NetworkPolicy')) {
      const s = component(np);
      assert.deepEqual(np.spec.policyTypes, ['Ingress', 'Egress']);
      const internet = np.spec.egress.some((r) => (r.to || []).some((p) => p.ipBlock?.cidr === '0.0.0.0/0'));
      assert.equal(internet, ['action', 'blob', 'access'].includes(s), `${s}: internet egress`);
      for (const r of np.spec.egress) {
        if (!r.to) assert.ok(r.ports?.length, `${s}: an egress rule open to every port`);
      }
      for (const r of np.spec.ingress) {
        assert.ok(r.from?.length && r.ports?.length, `${s}: an ingress rule open to all`);
        const http = r.ports.some((p) => p.port === 'http');
        if (http) assert.deepEqual(r.from[0].namespaceSelector, v.networkPolicy.ingressController.namespaceSelector);
        if (r.ports.some((p) => p.port === 'grpc')) {
          assert.deepEqual(r.from.map((f) => Object.keys(f)), [['podSelector']], `${s}: gRPC from outside the release`);
        }
      }
      const dbRule = np.spec.egress.some((r) => r.ports?.some((p) => p.port === v.database.port));
      assert.equal(dbRule, s !== 'gateway', `${s}: PostgreSQL egress`);
    }
  });
}

test('values.schema.json rejects unknown keys at every level and wrong types', async () => {
  // A sample across levels; the next test proves structurally that every level is closed.
  const cases = ['unknownTop=1', 'services.gateway.replicas=2', 'database.password.secret=x',
    'networkPolicy.egress.redis.port=1', 'services.search.enabled=true', 'services.gateway.replicaCount=two',
    'database.sslMode=maybe', 'redis.addr=no-port'];
  const results = await Promise.all(cases.map((set) => helmAsync(['template', 'rel', '.', '-f', 'ci/minimal-values.yaml', '--set', set])));
  cases.forEach((set, i) => {
    assert.notEqual(results[i].status, 0, `accepted --set ${set}`);
    assert.match(results[i].stderr, /schema|not allowed|Invalid|must be|value must be one of|does not match/, set);
  });
});

test('every object in values.schema.json closes its keys', () => {
  const schema = JSON.parse(readFileSync(path.join(chart, 'values.schema.json'), 'utf8'));
  const open = [];
  (function walk(node, where) {
    if (!node || typeof node !== 'object') return;
    if (node.type === 'object' && !('additionalProperties' in node) && !String(node.$comment || '').startsWith('Kubernetes passthrough')) open.push(where);
    if (node.additionalProperties === true) open.push(where);
    for (const [k, v] of Object.entries(node)) if (typeof v === 'object') walk(v, `${where}/${k}`);
  })(schema, '#');
  assert.deepEqual(open, []);
});

test('generated secrets are hooks kept on uninstall, read back with lookup, never regenerated', () => {
  const objs = render('minimal-values.yaml');
  const gen = byKind(objs, 'Secret').find((s) => s.metadata.name === 'rel-cloudillo-generated');
  assert.ok(gen);
  assert.equal(gen.metadata.annotations['helm.sh/resource-policy'], 'keep');
  assert.match(gen.metadata.annotations['helm.sh/hook'], /pre-install/);
  const key = Buffer.from(gen.data['master-key'], 'base64').toString();
  assert.match(key, /^1:[A-Za-z0-9+/]{43}=\n$/);
  assert.equal(Buffer.from(key.slice(2), 'base64').length, 32);
  assert.ok(Buffer.from(gen.data['admin-token'], 'base64').length >= 32);
  const tpl = readFileSync(path.join(chart, 'templates/secrets.yaml'), 'utf8');
  assert.match(tpl, /lookup "v1" "Secret"/);
  // With existing Secrets nothing is generated and pods read the operator's Secret.
  const prod = render('production-values.yaml');
  assert.ok(!byKind(prod, 'Secret').some((s) => s.metadata.name === 'rel-cloudillo-generated'));
  const id = byKind(prod, 'Deployment').find((d) => component(d) === 'identity');
  const sources = id.spec.template.spec.volumes.find((v) => v.name === 'secrets').projected.sources.map((s) => s.secret.name);
  assert.deepEqual(sources, ['cloudillo-master-key', 'cloudillo-admin-token']);
});

test('migrations run as a pre-install/pre-upgrade Job for every service with tables, and can be skipped', () => {
  const objs = render('minimal-values.yaml');
  const [job] = byKind(objs, 'Job');
  assert.equal(job.metadata.annotations['helm.sh/hook'], 'pre-install,pre-upgrade');
  const steps = [...(job.spec.template.spec.initContainers || []), ...job.spec.template.spec.containers];
  assert.deepEqual(steps.map((c) => c.command.slice(-1)[0]), steps.map(() => 'migrate'));
  const migrated = steps.map((c) => c.name.replace('migrate-', '')).sort();
  assert.deepEqual(migrated, services.filter((s) => s !== 'gateway'));
  // Every secret a step reads exists before it: a hook of lower weight, or the operator's.
  for (const s of byKind(objs, 'Secret')) assert.ok(Number(s.metadata.annotations['helm.sh/hook-weight']) < 0, s.metadata.name);
  for (const c of steps) assert.ok(!c.env.some((e) => e.name === 'CLOUDILLO_GRPC_CERT'), 'migrate needs no cluster TLS (made after hooks)');
  assert.equal(byKind(render('small-values.yaml'), 'Job').length, 0);
});

test('ServiceMonitors and PrometheusRules only where the CRDs exist', () => {
  const without = render('production-values.yaml');
  assert.equal(byKind(without, 'ServiceMonitor').length, 0);
  assert.equal(byKind(without, 'PrometheusRule').length, 0);
  const withCrd = render('production-values.yaml', monitoringApis);
  const [rule] = byKind(withCrd, 'PrometheusRule');
  assert.ok(rule.spec.groups.length > 0, 'the rules from deploy/mixin are in the chart');
  for (const sm of byKind(withCrd, 'ServiceMonitor')) {
    assert.equal(sm.spec.jobLabel, 'cloudillo.io/job');
    assert.equal(sm.spec.endpoints[0].port, 'ops');
  }
  const dashboards = byKind(withCrd, 'ConfigMap').filter((c) => c.metadata.labels.grafana_dashboard === '1');
  assert.ok(dashboards.length >= 1);
  for (const d of dashboards) for (const body of Object.values(d.data)) JSON.parse(body);
});

test('ingress: wildcard hosts per provider domain, both hosts per named tenant, cert-manager', () => {
  const [ing] = byKind(render('production-values.yaml'), 'Ingress');
  const hosts = ing.spec.rules.map((r) => r.host);
  assert.ok(hosts.includes('*.cloud.example.net') && hosts.includes('cloud.example.net'));
  assert.ok(hosts.includes('alice.example.org') && hosts.includes('cl-o.alice.example.org'));
  assert.equal(ing.metadata.annotations['cert-manager.io/cluster-issuer'], 'letsencrypt');
  assert.ok(ing.spec.tls.some((t) => t.secretName === 'team-tls' && t.hosts.includes('cl-o.team.example.com')));
  const [small] = byKind(render('small-values.yaml'), 'Ingress');
  assert.ok(small.spec.rules.some((r) => !r.host), 'catchAll renders a rule without host');
});

test('credentials: a value lands in the chart Secret, an existingSecret is referenced, the URL is escaped', () => {
  const small = render('small-values.yaml');
  const creds = byKind(small, 'Secret').find((s) => s.metadata.name === 'rel-cloudillo-credentials');
  assert.equal(Buffer.from(creds.data['database-password'], 'base64').toString(), 'p@ss word/with:specials');
  const id = byKind(small, 'Deployment').find((d) => component(d) === 'identity').spec.template.spec.containers[0];
  assert.deepEqual(id.env.find((e) => e.name === 'PGPASSWORD').valueFrom.secretKeyRef, { name: 'rel-cloudillo-credentials', key: 'database-password' });
  const prod = byKind(render('production-values.yaml'), 'Deployment').find((d) => component(d) === 'blob').spec.template.spec.containers[0];
  assert.deepEqual(prod.env.find((e) => e.name === 'CLOUDILLO_S3_SECRET_KEY').valueFrom.secretKeyRef, { name: 's3-credentials', key: 'secret-access-key' });
  assert.equal(prod.env.find((e) => e.name === 'CLOUDILLO_REDIS_SENTINELS').value.split(',').length, 3);
  const r = helm(['template', 'rel', '.', '-f', 'ci/minimal-values.yaml', '--set', 'objectStorage.s3.accessKeyId.value=', '--set', 'objectStorage.s3.accessKeyId.existingSecret='], { allowFail: true });
  assert.notEqual(r.status, 0, 'S3 without credentials must not render');
});

test('a CronJob purges tenants past their deletion grace period, as an admin client', () => {
  const [cj] = byKind(render('minimal-values.yaml'), 'CronJob');
  const pod = cj.spec.jobTemplate.spec.template;
  assert.equal(pod.metadata.labels['cloudillo.io/admin-client'], 'true');
  assert.deepEqual(pod.spec.containers[0].command.slice(-2), ['tenant', 'purge']);
  assert.equal(cj.spec.concurrencyPolicy, 'Forbid');
  assert.equal(byKind(render('minimal-values.yaml', ['--set', 'tenantPurge.enabled=false']), 'CronJob').length, 0);
});

test('the admin HTTP/JSON API: identity listens on it, the admin Service exposes it to admin clients only, never the ingress', () => {
  const docs = render('minimal-values.yaml');
  const id = byKind(docs, 'Deployment').find((d) => component(d) === 'identity').spec.template.spec.containers[0];
  assert.equal(id.env.find((e) => e.name === 'CLOUDILLO_ADMIN_HTTP_ADDR').value, '0.0.0.0:9110');
  assert.ok(id.ports.some((p) => p.name === 'admin-http' && p.containerPort === 9110));
  const svc = byKind(docs, 'Service').find((s) => s.metadata.name === 'rel-cloudillo-admin');
  assert.ok(svc.spec.ports.some((p) => p.name === 'admin-http' && p.port === 9110));
  const np = byKind(docs, 'NetworkPolicy').find((n) => component(n) === 'identity');
  const rule = np.spec.ingress.find((r) => r.ports.some((p) => p.port === 'admin-http'));
  assert.equal(rule.from[0].podSelector.matchLabels['cloudillo.io/admin-client'], 'true');
  for (const ing of byKind(docs, 'Ingress')) assert.doesNotMatch(JSON.stringify(ing), /admin/);
  const off = render('minimal-values.yaml', ['--set', 'adminHttp.enabled=false']);
  const idOff = byKind(off, 'Deployment').find((d) => component(d) === 'identity').spec.template.spec.containers[0];
  assert.equal(idOff.env.find((e) => e.name === 'CLOUDILLO_ADMIN_HTTP_ADDR'), undefined);
  assert.ok(!byKind(off, 'Service').find((s) => s.metadata.name === 'rel-cloudillo-admin').spec.ports.some((p) => p.name === 'admin-http'));
  const bad = helm(['template', 'rel', '.', '-f', 'ci/minimal-values.yaml', '--set', 'adminHttp.enabled=yes'], { allowFail: true });
  assert.notEqual(bad.status, 0, 'the schema must refuse a non-boolean adminHttp.enabled');
});

test('blobs on a single-writer volume refuse more than one blob replica', () => {
  const r = helm(['template', 'rel', '.', '-f', 'ci/small-values.yaml', '--set', 'services.blob.replicaCount=2'], { allowFail: true });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /ReadWriteMany/);
});

test('every service of the build and of DESIGN has its rows in the chart', () => {
  const v = values();
  const schema = JSON.parse(readFileSync(path.join(chart, 'values.schema.json'), 'utf8'));
  const helpers = readFileSync(path.join(chart, 'templates/_helpers.tpl'), 'utf8');
  const facts = parseYaml(helpers.split('define "cloudillo.facts" -}}')[1].split('{{- end -}}')[0]);
  for (const s of services) {
    assert.ok(v.services[s], `values.yaml services.${s}`);
    assert.ok(schema.properties.services.properties[s], `values.schema.json services.${s}`);
    assert.ok(facts[s], `_helpers.tpl facts row for ${s}`);
    assert.ok(schema.properties.internalTls.properties.existingSecrets.properties[s], `internalTls.existingSecrets.${s}`);
  }
  const ops = readFileSync(path.join(chart, '../../docs/operations.md'), 'utf8').split(/^## Scaling each service$/m)[1].split(/^## /m)[0];
  for (const s of services) assert.match(ops, new RegExp(`^\\| ${s} \\|`, 'm'), `docs/operations.md "Scaling each service" has no row for ${s}`);
  const ports = Object.values(facts).flatMap((f) => [f.grpcPort, f.opsPort, f.adminPort, f.adminHttpPort, f.httpPort].filter(Boolean));
  assert.equal(new Set(ports).size, ports.length, 'two services share a port');
});
