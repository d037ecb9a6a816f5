// Logins: AppRole (plain and response-wrapped secret id, env or files, custom mount), Kubernetes and
// JWT, in the root namespace and in a namespace; the CLI runs `list` and `doctor` with each.
// Logins need roles the emulator sets up: the whole file skips against a real Vault.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VaultClient } from '../src/vault/client.js';
import { kvFor } from '../src/vault/kv.js';
import { StateStore } from '../src/store/store.js';
import { runCli, type CliResult } from './support/cli.js';
import { makeCert } from './support/certs.js';
import { testVault, type TestVault } from './support/vault.js';

let vault: TestVault;
let dir: string;
let base: Record<string, string>;
const CERT = 'www.login.example.test';
const real = Boolean(process.env.CERTVAULT_TEST_VAULT_ADDR);

before(async () => {
  if (real) return;
  vault = await testVault({ namespaces: ['team-a'] });
  dir = await mkdtemp(join(tmpdir(), 'certvault-auth-'));
  base = { VAULT_ADDR: vault.addr, CERTVAULT_VAULT_MOUNT: vault.mount, CERTVAULT_VAULT_PREFIX: vault.prefix };
  const emu = vault.emulator!;
  // The renewer policy as certvault prints it: enough for list and doctor, nothing more.
  const printed = await runCli(['policy', 'renewer'], base);
  assert.equal(printed.code, 0, printed.stderr);
  emu.setPolicy('certvault-renewer', printed.stdout);
  emu.setPolicy('certvault-renewer-team-a', printed.stdout.replace(/path "/g, 'path "team-a/'));
  for (const ns of ['', 'team-a']) {
    const client = new VaultClient({
      addr: vault.addr,
      token: () => vault.token,
      namespace: ns || undefined,
    });
    const store = new StateStore(kvFor(client, vault.mount, 2), vault.prefix, 'test');
    await store.putCertificate(CERT, await makeCert([CERT]), 0);
  }
});

after(async () => {
  await vault?.close();
});

const file = async (name: string, content: string): Promise<string> => {
  const p = join(dir, name);
  await writeFile(p, `${content}\n`, { mode: 0o600 });
  return p;
};

/** `list --json` works and `doctor` names the login; no secret in any output. */
async function assertWorks(
  env: Record<string, string>,
  login: RegExp,
  secrets: string[],
  args: string[] = [],
): Promise<void> {
  const list = await runCli([...args, 'list', '--json'], { ...base, ...env });
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual(
    (JSON.parse(list.stdout) as { name: string }[]).map((c) => c.name),
    [CERT],
  );
  const doctor = await runCli([...args, 'doctor', '--json'], { ...base, ...env });
  assert.equal(doctor.code, 0, doctor.stdout + doctor.stderr);
  const checks = (JSON.parse(doctor.stdout) as { checks: { name: string; ok: boolean; detail: string }[] })
    .checks;
  const auth = checks.find((c) => c.name === 'auth')!;
  assert.ok(auth.ok, auth.detail);
  assert.match(auth.detail, login);
  assert.match(auth.detail, /certvault-renewer/);
  assert.ok(checks.find((c) => c.name === 'can renew')?.ok);
  for (const out of [list, doctor])
    for (const s of secrets) assert.ok(!(out.stdout + out.stderr).includes(s), 'a secret was printed');
}

const logins = (path: string): number =>
  vault.emulator!.requests.filter((r) => r.method === 'POST' && r.path === path).length;

test('AppRole from VAULT_ROLE_ID and VAULT_SECRET_ID (inferred)', async (t) => {
  if (real) return t.skip('needs the emulator');
  const { roleId, secretId } = vault.emulator!.addAppRole({
    name: 'certvault',
    policies: ['certvault-renewer'],
  });
  const before = logins('auth/approle/login');
  await assertWorks(
    { VAULT_ROLE_ID: roleId, VAULT_SECRET_ID: secretId },
    /AppRole login at auth\/approle \(role id from VAULT_ROLE_ID, secret id from VAULT_SECRET_ID\)/,
    [secretId],
  );
  assert.equal(logins('auth/approle/login') - before, 2, 'one login per run');
});

test('AppRole from files on a custom mount', async (t) => {
  if (real) return t.skip('needs the emulator');
  vault.emulator!.enableAuth('ci-approle', 'approle');
  const { roleId, secretId } = vault.emulator!.addAppRole({
    name: 'ci',
    policies: ['certvault-renewer'],
    mount: 'ci-approle',
  });
  const env = { CERTVAULT_VAULT_ROLE_ID_FILE: await file('role-id', roleId) };
  const args = [
    '--vault-auth',
    'approle',
    '--vault-auth-mount',
    'ci-approle',
    '--vault-secret-id-file',
    await file('secret-id', secretId),
  ];
  await assertWorks(
    env,
    /AppRole login at auth\/ci-approle \(role id from file .*role-id, secret id from file .*secret-id\)/,
    [secretId],
    args,
  );
  const bad = await runCli([...args.slice(0, -1), await file('bad-secret-id', 'not-the-secret'), 'list'], {
    ...base,
    ...env,
  });
  assert.equal(bad.code, 1, bad.stderr);
  assert.match(
    bad.stderr,
    /^certvault: error: Vault AppRole login at auth\/ci-approle failed \(400: invalid role or secret ID\); check the role id and secret id/,
  );
  assert.equal(bad.stderr.trim().split('\n').length, 1);
});

test('AppRole with a response-wrapped secret id: unwrapped once, refused when already used', async (t) => {
  if (real) return t.skip('needs the emulator');
  const emu = vault.emulator!;
  const { roleId } = emu.addAppRole({ name: 'wrapped', policies: ['certvault-renewer'] });
  const wrapping = emu.wrappedSecretId('wrapped');
  const env = { VAULT_ROLE_ID: roleId, VAULT_SECRET_ID: wrapping, CERTVAULT_VAULT_SECRET_ID_WRAPPED: 'true' };
  const list = await runCli(['list', '--json'], { ...base, ...env });
  assert.equal(list.code, 0, list.stderr);
  assert.equal((JSON.parse(list.stdout) as unknown[]).length, 1);
  const again = await runCli(['--vault-secret-id-wrapped', 'list'], {
    ...base,
    ...env,
    CERTVAULT_VAULT_SECRET_ID_WRAPPED: '',
  });
  assert.equal(again.code, 1);
  assert.match(
    again.stderr,
    /cannot unwrap the AppRole secret id from VAULT_SECRET_ID \(400\): the wrapping token is invalid, expired or already used; .*treat the secret id as compromised/,
  );
  assert.ok(!again.stderr.includes(wrapping));
});

test('Kubernetes: service account token file, given or inferred from CERTVAULT_VAULT_ROLE', async (t) => {
  if (real) return t.skip('needs the emulator');
  const emu = vault.emulator!;
  emu.addJwtRole({
    mount: 'kubernetes',
    name: 'certvault',
    policies: ['certvault-renewer'],
    boundServiceAccountNames: ['certvault'],
    namespaces: ['certs'],
  });
  const jwt = await emu.serviceAccountJwt({ namespace: 'certs', name: 'certvault' });
  const tokenFile = await file('sa-token', jwt);
  await assertWorks(
    {},
    /Kubernetes login at auth\/kubernetes as role certvault \(token from file .*sa-token\)/,
    [jwt],
    ['--vault-auth', 'kubernetes', '--vault-role', 'certvault', '--vault-kubernetes-token-file', tokenFile],
  );
  // Inferred: a service account token file and a role are there.
  await assertWorks(
    { CERTVAULT_VAULT_ROLE: 'certvault', CERTVAULT_VAULT_KUBERNETES_TOKEN_FILE: tokenFile },
    /Kubernetes login/,
    [jwt],
  );
  const other = await file(
    'other-sa-token',
    await emu.serviceAccountJwt({ namespace: 'default', name: 'certvault' }),
  );
  const refused = await runCli(['list'], {
    ...base,
    CERTVAULT_VAULT_ROLE: 'certvault',
    CERTVAULT_VAULT_KUBERNETES_TOKEN_FILE: other,
  });
  assert.equal(refused.code, 1);
  assert.match(
    refused.stderr,
    /Vault Kubernetes login at auth\/kubernetes failed \(403: namespace not authorized\)/,
  );
});

test('JWT: token file and role', async (t) => {
  if (real) return t.skip('needs the emulator');
  const emu = vault.emulator!;
  emu.addJwtRole({
    mount: 'jwt',
    name: 'ci',
    policies: ['certvault-renewer'],
    boundAudiences: ['vault'],
    boundSubject: 'repo:example/certs',
  });
  const jwt = await emu.signJwt({ sub: 'repo:example/certs', aud: 'vault' });
  const jwtFile = await file('ci.jwt', jwt);
  await assertWorks(
    { CERTVAULT_VAULT_ROLE: 'ci', CERTVAULT_VAULT_JWT_FILE: jwtFile },
    /JWT login at auth\/jwt as role ci \(token from file .*ci\.jwt\)/,
    [jwt],
  );
  const untrusted = await file(
    'untrusted.jwt',
    await emu.signJwt({ sub: 'repo:example/certs', aud: 'vault' }, { untrusted: true }),
  );
  const refused = await runCli(
    ['--vault-auth', 'jwt', '--vault-role', 'ci', '--vault-jwt-file', untrusted, 'list'],
    base,
  );
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /Vault JWT login at auth\/jwt failed \(400: error validating token/);
  assert.ok(!refused.stderr.includes(jwt));
});

test('every method works in a namespace (login and requests carry X-Vault-Namespace)', async (t) => {
  if (real) return t.skip('needs the emulator');
  const emu = vault.emulator!;
  const { roleId, secretId } = emu.addAppRole({ name: 'team-a', policies: ['certvault-renewer-team-a'] });
  emu.addJwtRole({
    mount: 'jwt',
    name: 'team-a',
    policies: ['certvault-renewer-team-a'],
    boundAudiences: ['vault'],
  });
  const jwtFile = await file('team-a.jwt', await emu.signJwt({ sub: 'team-a', aud: 'vault' }));
  emu.addJwtRole({
    mount: 'kubernetes',
    name: 'team-a',
    policies: ['certvault-renewer-team-a'],
    boundServiceAccountNames: ['certvault'],
    namespaces: ['team-a'],
  });
  const saFile = await file(
    'team-a-sa',
    await emu.serviceAccountJwt({ namespace: 'team-a', name: 'certvault' }),
  );
  const token = emu.createToken({ policies: ['certvault-renewer-team-a'] });
  emu.resetLog();
  for (const env of [
    { VAULT_ROLE_ID: roleId, VAULT_SECRET_ID: secretId },
    { CERTVAULT_VAULT_ROLE: 'team-a', CERTVAULT_VAULT_JWT_FILE: jwtFile },
    { CERTVAULT_VAULT_ROLE: 'team-a', CERTVAULT_VAULT_KUBERNETES_TOKEN_FILE: saFile },
    { VAULT_TOKEN: token },
  ]) {
    const list = await runCli(['list', '--json'], { ...base, ...env, VAULT_NAMESPACE: 'team-a' });
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(
      (JSON.parse(list.stdout) as { name: string }[]).map((c) => c.name),
      [CERT],
    );
  }
  const logged = emu.requests.filter((r) => r.path.endsWith('/login') || r.path.includes(vault.prefix));
  assert.equal(logged.filter((r) => r.path.endsWith('/login')).length, 3, 'three logins');
  assert.ok(logged.length >= 8 && logged.every((r) => r.namespace === 'team-a'), JSON.stringify(logged));
});

test('secrets are never accepted on the command line, and missing inputs are usage errors', async (t) => {
  if (real) return t.skip('needs the emulator');
  for (const flag of ['--vault-token', '--vault-secret-id', '--vault-role-id', '--vault-jwt']) {
    const res: CliResult = await runCli([flag, 'x', 'list'], base);
    assert.equal(res.code, 2, flag);
    assert.match(res.stderr, /unknown option/);
  }
  const cases: [Record<string, string>, string[], RegExp][] = [
    [
      { VAULT_ROLE_ID: 'r' },
      ['--vault-auth', 'approle'],
      /AppRole login needs a secret id; set VAULT_SECRET_ID or --vault-secret-id-file/,
    ],
    [{}, ['--vault-auth', 'kubernetes'], /Kubernetes login needs a Vault role/],
    [{}, ['--vault-auth', 'jwt', '--vault-role', 'ci'], /JWT login needs a token file/],
    [
      {},
      ['--vault-auth', 'jwt', '--vault-role', 'ci', '--vault-jwt-file', '/nonexistent/jwt'],
      /cannot read the JWT file \/nonexistent\/jwt \(ENOENT\)/,
    ],
    [{ CERTVAULT_VAULT_AUTH: 'ldap' }, [], /invalid|Allowed choices/],
  ];
  for (const [env, args, message] of cases) {
    const res = await runCli([...args, 'list'], { ...base, ...env });
    assert.equal(res.code, 2, `${args.join(' ')}: ${res.stderr}`);
    assert.match(res.stderr, message);
  }
});
