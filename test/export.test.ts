import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, stat, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VaultClient } from '../src/vault/client.js';
import { kvFor } from '../src/vault/kv.js';
import { StateStore } from '../src/store/store.js';
import { makeCert } from './support/certs.js';
import { CLI, runCli } from './support/cli.js';
import { testVault, type TestVault } from './support/vault.js';

let vault: TestVault;
before(async () => {
  vault = await testVault();
});
after(async () => {
  await vault?.close();
});

let counter = 0;
/** A fresh prefix holding one certificate; `cli` runs certvault against it. */
async function world(extraEnv: Record<string, string> = {}) {
  const prefix = `${vault.prefix}/export-${++counter}`;
  const env: Record<string, string> = {
    VAULT_ADDR: vault.addr,
    VAULT_TOKEN: vault.token,
    CERTVAULT_VAULT_MOUNT: vault.mount,
    CERTVAULT_VAULT_PREFIX: prefix,
    ...(vault.namespace ? { VAULT_NAMESPACE: vault.namespace } : {}),
    ...extraEnv,
  };
  const client = new VaultClient({ addr: vault.addr, token: () => vault.token, namespace: vault.namespace });
  const store = new StateStore(kvFor(client, vault.mount, 2), prefix, 'test');
  const name = `site${counter}.example.test`;
  const material = await makeCert([name, `www.${name}`]);
  await store.putCertificate(name, material, 0);
  const dir = await mkdtemp(join(tmpdir(), 'cv-export-'));
  return { env, store, name, material, dir, cli: (...args: string[]) => runCli(args, env) };
}

const mode = async (p: string) => (await stat(p)).mode & 0o777;

test('certbot format: four files, key 0600, others 0644, atomic (no temporary files left)', async () => {
  const w = await world();
  const out = join(w.dir, 'live');
  const r = await w.cli('export', w.name, '--dir', out, '--json');
  assert.equal(r.code, 0, r.stderr);
  const res = JSON.parse(r.stdout) as {
    changed: boolean;
    version: number;
    written: string[];
    files: string[];
  };
  assert.equal(res.changed, true);
  assert.equal(res.version, 1);
  assert.deepEqual((await readdir(out)).sort(), ['cert.pem', 'chain.pem', 'fullchain.pem', 'privkey.pem']);
  assert.equal(await readFile(join(out, 'cert.pem'), 'utf8'), w.material.cert);
  assert.equal(await readFile(join(out, 'chain.pem'), 'utf8'), w.material.chain);
  assert.equal(await readFile(join(out, 'fullchain.pem'), 'utf8'), w.material.fullchain);
  assert.equal(await readFile(join(out, 'privkey.pem'), 'utf8'), w.material.privkey);
  assert.equal(await mode(join(out, 'privkey.pem')), 0o600);
  for (const f of ['cert.pem', 'chain.pem', 'fullchain.pem'])
    assert.equal(await mode(join(out, f)), 0o644, f);
  assert.ok(
    !r.stdout.includes('PRIVATE KEY') && !r.stderr.includes('PRIVATE KEY'),
    'no key material in the output',
  );

  // Same version again: nothing written; a mode someone loosened is fixed without a rewrite.
  await chmod(join(out, 'privkey.pem'), 0o644);
  const again = await w.cli('export', w.name, '--dir', out, '--json');
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(JSON.parse(again.stdout).written, []);
  assert.equal(await mode(join(out, 'privkey.pem')), 0o600);
});

test("reload runs only when content changed, with the certificate's environment", async () => {
  const w = await world();
  const log = join(w.dir, 'reloads.log');
  const reload = `echo "$CERTVAULT_NAME|$CERTVAULT_DOMAINS|$CERTVAULT_EXPORT_DIR" >> ${log}`;
  const out = join(w.dir, 'out');
  const first = await w.cli('export', w.name, '--dir', out, '--reload', reload);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /wrote 4 file\(s\); reload ok/);
  assert.equal(await readFile(log, 'utf8'), `${w.name}|${w.name} www.${w.name}|${out}\n`);

  const second = await w.cli('export', w.name, '--dir', out, '--reload', reload);
  assert.match(second.stdout, /unchanged/);
  assert.equal((await readFile(log, 'utf8')).split('\n').length - 1, 1, 'no reload without a change');

  const renewed = await makeCert([w.name, `www.${w.name}`]);
  await w.store.putCertificate(w.name, renewed, 1);
  const third = await w.cli('export', w.name, '--dir', out, '--reload', reload, '--json');
  const res = JSON.parse(third.stdout) as { version: number; changed: boolean; reload: { ok: boolean } };
  assert.equal(res.version, 2);
  assert.equal(res.reload.ok, true);
  assert.equal((await readFile(log, 'utf8')).split('\n').length - 1, 2);
  assert.equal(await readFile(join(out, 'privkey.pem'), 'utf8'), renewed.privkey);

  // A failing reload: files are in place, exit 1, one line naming the problem.
  const newer = await makeCert([w.name]);
  await w.store.putCertificate(w.name, newer, 2);
  const failing = await w.cli('export', w.name, '--dir', out, '--reload', 'exit 7');
  assert.equal(failing.code, 1);
  assert.match(failing.stdout, /reload failed: exit 7/);
  assert.equal(await readFile(join(out, 'cert.pem'), 'utf8'), newer.cert);
});

test('pem format: NAME.pem with key and full chain, 0600', async () => {
  const w = await world();
  const r = await w.cli('export', w.name, '--dir', w.dir, '--format', 'pem');
  assert.equal(r.code, 0, r.stderr);
  const pem = await readFile(join(w.dir, `${w.name}.pem`), 'utf8');
  assert.equal(pem, `${w.material.privkey.trimEnd()}\n${w.material.fullchain}`);
  assert.equal(await mode(join(w.dir, `${w.name}.pem`)), 0o600);
});

test('pkcs12 format: openssl reads it back with the password; unchanged certificate, no rewrite', async () => {
  const w = await world({ P12_PASS: 'correct horse battery' });
  const plain = await w.cli(
    'export',
    w.name,
    '--dir',
    w.dir,
    '--format',
    'pkcs12',
    '--p12-password',
    'hunter2',
  );
  assert.equal(plain.code, 2, 'a password on the command line is refused');
  assert.equal(plain.stderr.trim().split('\n').length, 1);
  const missing = await w.cli('export', w.name, '--dir', w.dir, '--format', 'pkcs12');
  assert.equal(missing.code, 2);

  const r = await w.cli(
    'export',
    w.name,
    '--dir',
    w.dir,
    '--format',
    'pkcs12',
    '--p12-password',
    '@env:P12_PASS',
    '--json',
  );
  assert.equal(r.code, 0, r.stderr);
  const p12 = join(w.dir, `${w.name}.p12`);
  assert.equal(await mode(p12), 0o600);
  const certs = execFileSync('openssl', ['pkcs12', '-in', p12, '-nokeys', '-passin', 'env:P12_PASS'], {
    env: { ...process.env, P12_PASS: 'correct horse battery' },
  }).toString();
  assert.ok(certs.includes(w.material.cert.split('\n')[1] as string), 'the leaf certificate is inside');
  const key = execFileSync(
    'openssl',
    ['pkcs12', '-in', p12, '-nocerts', '-nodes', '-passin', 'env:P12_PASS'],
    { env: { ...process.env, P12_PASS: 'correct horse battery' } },
  ).toString();
  assert.match(key, /PRIVATE KEY/);
  assert.ok(
    !r.stdout.includes('correct horse') && !r.stderr.includes('correct horse'),
    'the password is never printed',
  );

  const before = await readFile(p12);
  const again = await w.cli(
    'export',
    w.name,
    '--dir',
    w.dir,
    '--format',
    'pkcs12',
    '--p12-password',
    '@env:P12_PASS',
    '--json',
  );
  assert.deepEqual(JSON.parse(again.stdout).written, []);
  assert.ok(
    (await readFile(p12)).equals(before),
    'a salted file is not rewritten when its content is the same',
  );

  // Another password: the old file cannot be read with it, so it is rewritten.
  const pwFile = join(w.dir, 'pw');
  await writeFile(pwFile, 'another secret\n');
  const other = await w.cli(
    'export',
    w.name,
    '--dir',
    w.dir,
    '--format',
    'pkcs12',
    '--p12-password',
    `@file:${pwFile}`,
    '--json',
  );
  assert.equal(JSON.parse(other.stdout).changed, true);
});

test('--owner: numeric and by name; unknown user is a usage error', async () => {
  const w = await world();
  const uid = process.getuid!();
  const gid = process.getgid!();
  const numeric = await w.cli('export', w.name, '--dir', join(w.dir, 'a'), '--owner', `${uid}:${gid}`);
  assert.equal(numeric.code, 0, numeric.stderr);
  const st = await stat(join(w.dir, 'a', 'privkey.pem'));
  assert.deepEqual([st.uid, st.gid], [uid, gid]);
  const user = execFileSync('id', ['-un']).toString().trim();
  const group = execFileSync('id', ['-gn']).toString().trim();
  const named = await w.cli('export', w.name, '--dir', join(w.dir, 'b'), '--owner', `${user}:${group}`);
  assert.equal(named.code, 0, named.stderr);
  const alone = await w.cli('export', w.name, '--dir', join(w.dir, 'c'), '--owner', user);
  assert.equal(alone.code, 0, alone.stderr);
  const bad = await w.cli('export', w.name, '--dir', join(w.dir, 'd'), '--owner', 'no-such-user-cv:x');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /no user "no-such-user-cv"/);
});

test('a missing certificate is one line, exit 2, nothing written', async () => {
  const w = await world();
  const r = await w.cli('export', 'absent.example.test', '--dir', join(w.dir, 'x'));
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, /no certificate named "absent.example.test"/);
  const bad = await w.cli('export', '../etc', '--dir', join(w.dir, 'x'));
  assert.equal(bad.code, 2);
});

test('--watch picks up a renewal, survives a Vault outage, and exits 0 on SIGTERM', async (t) => {
  if (!vault.emulator) return t.skip('needs the emulator for fault injection');
  const w = await world();
  const out = join(w.dir, 'watch');
  const log = join(w.dir, 'reloads.log');
  const child = spawn(
    process.execPath,
    [
      CLI,
      'export',
      w.name,
      '--dir',
      out,
      '--watch',
      '--interval',
      '0.3',
      '--json',
      '--reload',
      `echo reload >> ${log}`,
    ],
    {
      env: { ...w.env, PATH: process.env.PATH ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const lines = () =>
    stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { version: number; changed: boolean });
  const waitFor = async (what: string, ok: () => boolean, ms = 10_000) => {
    const end = Date.now() + ms;
    while (!ok()) {
      if (Date.now() > end)
        throw new Error(`timed out waiting for ${what}\nstdout: ${stdout}\nstderr: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  try {
    await waitFor('the first export', () => lines().length === 1);
    assert.equal(lines()[0]?.version, 1);

    // Vault answers 503 for a while: logged, the watcher keeps going.
    const fault = vault.emulator.addFault({ method: 'GET', path: /metadata\//, status: 503 });
    await waitFor('a logged failure', () => /export failed, trying again/.test(stderr), 15_000);
    const renewed = await makeCert([w.name]);
    await w.store.putCertificate(w.name, renewed, 1);
    fault();

    await waitFor('the renewed version', () => lines().some((l) => l.version === 2));
    assert.equal(await readFile(join(out, 'fullchain.pem'), 'utf8'), renewed.fullchain);
    assert.equal((await readFile(log, 'utf8')).trim().split('\n').length, 2, 'one reload per change');
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(lines().length, 2, 'an unchanged version is not exported again');
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0, stderr);
});

test('--watch with only the reader policy (no metadata read) still picks up a renewal', async (t) => {
  if (!vault.emulator) return t.skip('needs the emulator to create a token with a policy');
  const w = await world();
  const policy = await w.cli('policy', 'reader', '--name', w.name);
  assert.equal(policy.code, 0, policy.stderr);
  vault.emulator.setPolicy(`reader-${counter}`, policy.stdout);
  const token = vault.emulator.createToken({ policies: [`reader-${counter}`] });
  const out = join(w.dir, 'reader');
  const child = spawn(
    process.execPath,
    [CLI, 'export', w.name, '--dir', out, '--watch', '--interval', '0.3', '--json', '--log-level', 'info'],
    {
      env: { ...w.env, VAULT_TOKEN: token, PATH: process.env.PATH ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const versions = () =>
    stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { version: number }).version);
  const waitFor = async (what: string, ok: () => boolean) => {
    const end = Date.now() + 10_000;
    while (!ok()) {
      if (Date.now() > end)
        throw new Error(`timed out waiting for ${what}\nstdout: ${stdout}\nstderr: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  try {
    await waitFor('the first export', () => versions().length === 1);
    await w.store.putCertificate(w.name, await makeCert([w.name]), 1);
    await waitFor('the renewed version', () => versions().includes(2));
    assert.match(stderr, /may not read metadata; checking the secret itself/);
    assert.doesNotMatch(stderr, /export failed/);
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0, stderr);
});
