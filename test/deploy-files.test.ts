// Deployment files (Dockerfile, .dockerignore, deploy/kubernetes, deploy/systemd): they parse, and
// they keep the promises docs/running.md makes (non-root, read-only root filesystem, one renew at a
// time, only the built CLI in the image, hardened systemd unit). No Docker engine or cluster needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

const root = new URL('..', import.meta.url).pathname;
const read = (p: string) => readFileSync(join(root, p), 'utf8');
const k8sDir = 'deploy/kubernetes';

type Obj = Record<string, unknown>;
const obj = (v: unknown, what: string): Obj => {
  assert.ok(v && typeof v === 'object' && !Array.isArray(v), `${what} is an object`);
  return v as Obj;
};

function manifests(): Array<{ file: string; doc: Obj }> {
  const out: Array<{ file: string; doc: Obj }> = [];
  for (const file of readdirSync(join(root, k8sDir)).filter((f) => /\.ya?ml$/.test(f))) {
    for (const d of parseAllDocuments(read(`${k8sDir}/${file}`))) {
      assert.deepEqual(d.errors, [], `${file} parses`);
      if (d.contents !== null) out.push({ file, doc: obj(d.toJS(), file) });
    }
  }
  return out;
}

test('every Kubernetes YAML parses and names apiVersion and kind', () => {
  const docs = manifests();
  assert.ok(docs.length >= 3);
  for (const { file, doc } of docs) {
    assert.equal(typeof doc.apiVersion, 'string', `${file}: apiVersion`);
    assert.equal(typeof doc.kind, 'string', `${file}: kind`);
  }
  const kustomization = docs.find((d) => d.doc.kind === 'Kustomization')!.doc;
  for (const r of kustomization.resources as string[])
    assert.ok(existsSync(join(root, k8sDir, r)), `kustomization resource ${r} exists`);
});

test('the CronJob runs one renew at a time, non-root, read-only, no capabilities, with a Vault identity', () => {
  const docs = manifests();
  const cron = docs.find((d) => d.doc.kind === 'CronJob')!.doc;
  const sa = docs.find((d) => d.doc.kind === 'ServiceAccount')!.doc;
  assert.equal(obj(cron.metadata, 'metadata').name, 'certvault-renew');
  const spec = obj(cron.spec, 'spec');
  assert.equal(spec.concurrencyPolicy, 'Forbid');
  assert.match(String(spec.schedule), /^\S+ \S+ \S+ \S+ \S+$/);
  assert.equal(typeof spec.successfulJobsHistoryLimit, 'number');
  assert.equal(typeof spec.failedJobsHistoryLimit, 'number');
  const job = obj(obj(spec.jobTemplate, 'jobTemplate').spec, 'job spec');
  assert.equal(job.backoffLimit, 0);
  assert.ok(Number(job.activeDeadlineSeconds) > 0);
  const pod = obj(obj(job.template, 'template').spec, 'pod spec');
  assert.equal(pod.restartPolicy, 'Never');
  assert.equal(pod.automountServiceAccountToken, true);
  assert.equal(pod.serviceAccountName, obj(sa.metadata, 'sa metadata').name);
  const podSec = obj(pod.securityContext, 'pod securityContext');
  assert.equal(podSec.runAsNonRoot, true);
  assert.ok(Number(podSec.runAsUser) > 0, 'numeric non-root uid');
  assert.equal(obj(podSec.seccompProfile, 'seccompProfile').type, 'RuntimeDefault');
  const containers = pod.containers as Obj[];
  assert.equal(containers.length, 1);
  const c = containers[0]!;
  assert.deepEqual(c.args, ['renew']);
  const sec = obj(c.securityContext, 'container securityContext');
  assert.equal(sec.readOnlyRootFilesystem, true);
  assert.equal(sec.allowPrivilegeEscalation, false);
  assert.deepEqual(obj(sec.capabilities, 'capabilities').drop, ['ALL']);
  const resources = obj(c.resources, 'resources');
  assert.ok(obj(resources.requests, 'requests').memory && obj(resources.limits, 'limits').memory);
  const env = Object.fromEntries(
    (c.env as Array<{ name: string; value?: string }>).map((e) => [e.name, e.value]),
  );
  assert.ok(env.VAULT_ADDR);
  assert.equal(env.CERTVAULT_VAULT_AUTH, 'kubernetes');
  assert.ok(env.CERTVAULT_VAULT_ROLE);
  assert.equal(pod.volumes, undefined, 'no volume: nothing is written locally');
});

/** Dockerfile instructions with continuation lines joined and comments dropped. */
function dockerfile(): Array<{ op: string; args: string }> {
  const joined = read('Dockerfile')
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const m = /^(\S+)\s+(.*)$/.exec(l)!;
      return { op: m[1]!.toUpperCase(), args: m[2]! };
    });
}

test('Dockerfile: multi-stage, npm ci / build, non-root runtime with only dist and package.json', () => {
  const ins = dockerfile();
  const froms = ins.map((x, i) => [x, i] as const).filter(([x]) => x.op === 'FROM');
  assert.ok(froms.length >= 2, 'multi-stage');
  const runtimeStart = froms[froms.length - 1]![1];
  const build = ins.slice(0, runtimeStart);
  const runtime = ins.slice(runtimeStart);
  const runs = build
    .filter((x) => x.op === 'RUN')
    .map((x) => x.args)
    .join(' && ');
  assert.match(runs, /npm ci/);
  assert.match(runs, /npm run build/);

  const user = runtime.filter((x) => x.op === 'USER').pop();
  assert.ok(user, 'runtime stage sets USER');
  const uid = user.args.split(':')[0]!;
  assert.ok(uid !== 'root' && uid !== '0', `USER ${user.args} is not root`);
  assert.equal(runtime.filter((x) => x.op === 'WORKDIR').pop()?.args, '/app');
  assert.deepEqual(JSON.parse(runtime.filter((x) => x.op === 'ENTRYPOINT').pop()!.args), [
    'node',
    '/app/dist/cli/main.js',
  ]);
  assert.deepEqual(JSON.parse(runtime.filter((x) => x.op === 'CMD').pop()!.args), ['renew']);
  assert.match(
    runtime
      .filter((x) => x.op === 'ENV')
      .map((x) => x.args)
      .join(' '),
    /NODE_ENV=production/,
  );
  assert.ok(runtime.some((x) => x.op === 'LABEL'));
  const copied = runtime
    .filter((x) => x.op === 'COPY')
    .map((x) => x.args.split(/\s+/).filter((a) => !a.startsWith('--'))[0]);
  assert.deepEqual(copied.map((p) => p!.replace(/^\/src\//, '')).sort(), ['dist', 'package.json']);
  assert.equal(runtime.filter((x) => x.op === 'RUN').length, 0, 'nothing runs in the runtime stage');

  // The entry point is what the build produces (package.json "bin").
  const pkg = JSON.parse(read('package.json')) as { bin: Record<string, string> };
  assert.equal(`/app/${pkg.bin.certvault}`, '/app/dist/cli/main.js');
});

test('.dockerignore lets in exactly what the build stage copies from the context', () => {
  const lines = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  assert.equal(lines[0], '*', 'deny by default');
  const allowed = lines.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
  const fromContext = dockerfile()
    .filter((x) => x.op === 'COPY' && !x.args.includes('--from'))
    .flatMap((x) => x.args.split(/\s+/).slice(0, -1))
    .map((p) => p.replace(/^\.\//, '').replace(/\/$/, ''));
  assert.deepEqual([...new Set(fromContext)].sort(), [...allowed].sort());
  for (const p of allowed) assert.ok(existsSync(join(root, p)), `${p} exists`);
});

/** `[Section]` → key → values (a key may repeat). */
function unit(path: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let cur: Map<string, string[]> | undefined;
  for (const raw of read(path).split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s) {
      cur = new Map();
      sections.set(s[1]!, cur);
      continue;
    }
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line);
    assert.ok(kv && cur, `${path}: "${line}" is a key=value inside a section`);
    cur.set(kv[1]!, [...(cur.get(kv[1]!) ?? []), kv[2]!]);
  }
  return sections;
}

test('systemd service is a hardened oneshot running renew; the timer is hourly, randomized, persistent', () => {
  const svc = unit('deploy/systemd/certvault-renew.service').get('Service')!;
  const one = (k: string) => svc.get(k)?.[0];
  assert.equal(one('Type'), 'oneshot');
  assert.match(one('ExecStart') ?? '', /\brenew$/);
  for (const [k, v] of Object.entries({
    DynamicUser: 'yes',
    ProtectSystem: 'strict',
    PrivateTmp: 'yes',
    NoNewPrivileges: 'yes',
    ProtectHome: 'yes',
  })) {
    assert.equal(one(k), v, k);
  }
  assert.equal(one('EnvironmentFile'), '/etc/certvault/env');
  assert.match(one('LoadCredential') ?? '', /^vault-token:\//);
  assert.ok(
    svc.get('Environment')!.includes('CERTVAULT_VAULT_TOKEN_FILE=%d/vault-token'),
    'token file from the credential',
  );

  const timer = unit('deploy/systemd/certvault-renew.timer');
  const t = timer.get('Timer')!;
  assert.equal(t.get('OnCalendar')?.[0], 'hourly');
  assert.ok(t.get('RandomizedDelaySec')?.[0]);
  assert.equal(t.get('Persistent')?.[0], 'true');
  assert.equal(timer.get('Install')?.get('WantedBy')?.[0], 'timers.target');
});

test('systemd-analyze verify accepts both units', (t) => {
  if (spawnSync('systemd-analyze', ['--version']).status !== 0)
    return t.skip('systemd-analyze not installed');
  const dir = mkdtempSync(join(tmpdir(), 'certvault-units-'));
  try {
    // verify checks that ExecStart's binary exists: point it at this node and the built CLI.
    const svc = read('deploy/systemd/certvault-renew.service').replace(
      /^ExecStart=.*$/m,
      `ExecStart=${process.execPath} ${join(root, 'dist/cli/main.js')} renew`,
    );
    writeFileSync(join(dir, 'certvault-renew.service'), svc);
    writeFileSync(join(dir, 'certvault-renew.timer'), read('deploy/systemd/certvault-renew.timer'));
    const r = spawnSync(
      'systemd-analyze',
      ['verify', join(dir, 'certvault-renew.service'), join(dir, 'certvault-renew.timer')],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    // Warnings about the host's own units may appear; none may concern ours.
    assert.doesNotMatch(r.stderr, /certvault-renew/, r.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every CERTVAULT_* variable the deployment files and docs/running.md use is one certvault reads', () => {
  const src = execFileSync('grep', ['-rhoE', 'CERTVAULT_[A-Z0-9_]+', join(root, 'src')], {
    encoding: 'utf8',
  });
  const known = new Set(src.split('\n').filter(Boolean));
  const files = [
    'deploy/kubernetes/cronjob.yaml',
    'deploy/kubernetes/README.md',
    'deploy/systemd/certvault-renew.service',
    'docs/running.md',
  ];
  for (const f of files) {
    for (const v of read(f).match(/CERTVAULT_[A-Z0-9_]+/g) ?? [])
      assert.ok(known.has(v), `${f}: ${v} is read by certvault`);
  }
});

test('the image check script is valid shell', () => {
  const r = spawnSync('bash', ['-n', join(root, 'deploy/docker/check-image-steps.sh')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});
