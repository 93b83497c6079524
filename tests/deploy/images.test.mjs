// The container image without a builder: deploy/images/Dockerfile checked statically,
// and every shared library the built binaries load (ldd) traced to its Debian package
// (dpkg -S), which the runtime stage must install.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { root, serviceList } from './lib.mjs';

const dockerfile = readFileSync(path.join(root, 'deploy/images/Dockerfile'), 'utf8');
const build = process.env.CLOUDILLO_BUILD_DIR || path.join(root, 'build');
// Instructions with continuation lines joined and comments dropped.
const instructions = dockerfile.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
  .map((l) => { const [op, ...rest] = l.split(/\s+/); return { op: op.toUpperCase(), args: rest.join(' ') }; });
const stages = [];
for (const i of instructions) {
  if (i.op === 'FROM') stages.push({ from: i.args, body: [] });
  else if (stages.length) stages.at(-1).body.push(i);
}
const runtime = stages.at(-1);
const basePackages = ['libc6', 'libgcc-s1', 'libstdc++6'];  // in debian:bookworm-slim
function runtimePackages() {
  const env = runtime.body.find((i) => i.op === 'ENV' && i.args.startsWith('RUNTIME_PACKAGES='));
  assert.ok(env, 'the runtime stage names its packages in ENV RUNTIME_PACKAGES');
  return env.args.replace(/^RUNTIME_PACKAGES="?/, '').replace(/"$/, '').split(/\s+/).filter(Boolean);
}

test('Dockerfile: multi-stage, pinned Debian bases, nothing fetched but Debian packages', () => {
  assert.ok(stages.length >= 2, 'a build stage and a runtime stage');
  for (const s of stages) {
    assert.match(s.from, /^debian:\$\{DEBIAN_RELEASE\}(-slim)?( AS \w+)?$|^debian:bookworm(-slim)?( AS \w+)?$/i, `base ${s.from}`);
    assert.doesNotMatch(s.from, /:latest/);
  }
  assert.match(runtime.from, /-slim/);
  for (const i of instructions) {
    assert.notEqual(i.op, 'ADD', 'ADD fetches and unpacks implicitly: use COPY');
    if (i.op === 'RUN') {
      assert.doesNotMatch(i.args, /\b(curl|wget|git clone|pip install|npm install)\b/, `downloads outside Debian: ${i.args}`);
      assert.doesNotMatch(i.args, /chmod\s+(-R\s+)?[0-7]*7[0-7]?\b|\bsudo\b/, i.args);
      if (/apt-get install/.test(i.args)) {
        assert.match(i.args, /--no-install-recommends/);
        assert.match(i.args, /rm -rf \/var\/lib\/apt\/lists/);
      }
    }
  }
});

test('Dockerfile: the runtime stage runs as a numeric non-root user, exec-form command, OCI labels', () => {
  const users = runtime.body.filter((i) => i.op === 'USER');
  assert.equal(users.length, 1);
  const [uid, gid] = users[0].args.split(':');
  assert.match(uid, /^[1-9]\d*$/, 'numeric uid (runAsNonRoot can verify it)');
  assert.match(gid, /^[1-9]\d*$/);
  const last = runtime.body.map((i) => i.op);
  assert.ok(last.lastIndexOf('USER') > last.lastIndexOf('RUN'), 'nothing runs as root after USER');
  for (const op of ['CMD', 'ENTRYPOINT']) {
    for (const i of runtime.body.filter((x) => x.op === op)) assert.match(i.args, /^\[.*\]$/, `${op} in exec form (no shell)`);
  }
  const cmd = runtime.body.find((i) => i.op === 'CMD');
  assert.ok(cmd && JSON.parse(cmd.args)[0].startsWith('/usr/local/bin/cloudillo-'));
  assert.ok(!runtime.body.some((i) => i.op === 'VOLUME'), 'no VOLUME: the chart mounts what is writable');
  const labels = runtime.body.filter((i) => i.op === 'LABEL').map((i) => i.args).join(' ');
  for (const l of ['title', 'description', 'source', 'licenses', 'version', 'revision', 'created']) {
    assert.match(labels, new RegExp(`org\\.opencontainers\\.image\\.${l}=`), `OCI label ${l}`);
  }
  const copies = runtime.body.filter((i) => i.op === 'COPY');
  assert.ok(copies.length >= 1 && copies.every((c) => /--from=build/.test(c.args)), 'the runtime gets only the build output');
});

test('Dockerfile: every service binary and the admin CLI land in the image', () => {
  const buildRun = stages[0].body.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n');
  // The build collects every add_executable(cloudillo-*) of services/*/ and the admin CLI.
  assert.match(buildRun, /services\/\*\/CMakeLists\.txt/);
  assert.match(buildRun, /tools\/admin-cli\/CMakeLists\.txt/);
  const collected = execFileSync('sh', ['-c', "sed -n 's/^add_executable(\\(cloudillo-[a-z0-9-]*\\).*/\\1/p' services/*/CMakeLists.txt tools/admin-cli/CMakeLists.txt"], { cwd: root, encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const s of serviceList().filter((n) => existsSync(path.join(root, 'services', n)))) assert.ok(collected.includes(`cloudillo-${s}`), `cloudillo-${s}`);
  assert.ok(collected.includes('cloudillo-admin'));
});

function builtBinaries() {
  const out = [];
  for (const dir of ['services', 'tools/admin-cli']) {
    const base = path.join(build, dir);
    if (!existsSync(base)) continue;
    const found = execFileSync('find', [base, '-maxdepth', '2', '-type', 'f', '-name', 'cloudillo-*', '-perm', '-u+x'], { encoding: 'utf8' });
    out.push(...found.split('\n').filter((f) => f && !f.endsWith('.sh')));
  }
  return out;
}

test('the runtime stage installs the Debian package of every shared library the binaries load', (t) => {
  const bins = builtBinaries();
  if (bins.length === 0) { t.skip(`no binaries in ${build}: build first`); return; }
  const libs = new Set();
  for (const b of bins) {
    const r = spawnSync('ldd', [b], { encoding: 'utf8' });
    assert.equal(r.status, 0, `ldd ${b}: ${r.stderr}`);
    for (const line of r.stdout.split('\n')) {
      assert.doesNotMatch(line, /not found/, `${path.basename(b)}: ${line.trim()}`);
      const m = /=>\s+(\/\S+)/.exec(line);
      if (m) libs.add(realpathSync(m[1]));
    }
  }
  // One dpkg -S for every path (it reads its whole database per call). usrmerge: dpkg
  // may know a file under /lib rather than /usr/lib, so ask for both spellings.
  const query = [...libs].flatMap((lib) => [lib, lib.replace(/^\/usr/, '')]);
  const r = spawnSync('dpkg', ['-S', ...query], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const ownerOf = new Map();
  for (const line of r.stdout.split('\n')) {
    const m = /^([^:,\s]+)(?::[a-z0-9]+)?: (\/.+)$/.exec(line);
    if (m) ownerOf.set(m[2], m[1]);
  }
  const owners = new Map();
  for (const lib of libs) {
    const pkg = ownerOf.get(lib) || ownerOf.get(lib.replace(/^\/usr/, ''));
    assert.ok(pkg, `${lib} belongs to no Debian package: the image cannot install it`);
    owners.set(pkg, [...(owners.get(pkg) || []), path.basename(lib)]);
  }
  const have = new Set([...runtimePackages(), ...basePackages]);
  const missing = [...owners.keys()].filter((p) => !have.has(p));
  assert.deepEqual(missing, [], `add to RUNTIME_PACKAGES: ${missing.map((p) => `${p} (${owners.get(p).join(', ')})`).join('; ')}`);
  // And nothing installed that no binary needs (but the CA bundle for outbound TLS).
  const unused = runtimePackages().filter((p) => p !== 'ca-certificates' && !owners.has(p));
  assert.deepEqual(unused, [], 'packages no binary loads');
});
