// Secrets hygiene, end to end: every user-facing flow (register, dns set/list, issue, renew, list,
// show, doctor, policy, import seed, a failing issue, AppRole logins) runs at --log-level debug in both
// log formats against Pebble + BIND, and no byte of a secret may appear on stdout or stderr: account
// and certificate private keys (PEM, base64 body lines, JWK parameters), the Vault token, AppRole
// secret id, TSIG secrets and API tokens. Temp files stay empty; the local store's files are 0600.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VaultClient } from '../src/vault/client.js';
import { kvFor } from '../src/vault/kv.js';
import { StateStore } from '../src/store/store.js';
import { runCli, type CliResult } from './support/cli.js';
import { makeCert } from './support/certs.js';
import { setupCommands, startStack, type Stack } from './support/stack.js';
import { testVault, type TestVault } from './support/vault.js';

let stack: Stack;
let vault: TestVault;
let tmp: string;
const outputs: { label: string; res: CliResult }[] = [];
/** Secret strings that must never be printed, with a label for the failure message. */
const secrets = new Map<string, string>();
const DNSIMPLE_TOKEN = `dnsimple-${randomBytes(16).toString('hex')}`;
const WRONG_TSIG = randomBytes(32).toString('base64');

before(async () => {
  stack = await startStack();
  vault = await testVault();
  tmp = await mkdtemp(join(tmpdir(), 'certvault-hygiene-tmp-'));
  addSecret('Vault token', vault.token);
  addSecret('TSIG secret', stack.bind.keys.sha256.secret);
  addSecret('wrong TSIG secret', WRONG_TSIG);
  addSecret('DNSimple token', DNSIMPLE_TOKEN);
});

after(async () => {
  await vault?.close();
  await stack?.stop();
});

/** A secret and the pieces of it that would still be a leak: PEM body lines, JWK private parameters. */
function addSecret(label: string, value: string): void {
  secrets.set(value, label);
  if (value.includes('-----BEGIN')) {
    const body = value.split('\n').filter((l) => l && !l.startsWith('-----'));
    for (const line of body) if (line.length >= 24) secrets.set(line, `${label} (PEM line)`);
    secrets.set(body.join(''), `${label} (base64 body)`);
    if (/PRIVATE KEY/.test(value)) {
      const jwk = createPrivateKey(value).export({ format: 'jwk' }) as Record<string, string>;
      for (const k of ['d', 'p', 'q', 'dp', 'dq', 'qi'])
        if (jwk[k]) secrets.set(jwk[k], `${label} (JWK ${k})`);
    }
  }
}

function envFor(prefix: string, format: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    VAULT_ADDR: vault.addr,
    VAULT_TOKEN: vault.token,
    CERTVAULT_VAULT_MOUNT: vault.mount,
    CERTVAULT_VAULT_PREFIX: prefix,
    CERTVAULT_ACME_CA_CERT: stack.acmeCaFile,
    CERTVAULT_LOG_LEVEL: 'debug',
    CERTVAULT_LOG_FORMAT: format,
    TSIG_SECRET: stack.bind.keys.sha256.secret,
    WRONG_TSIG,
    DNSIMPLE_TOKEN,
    TMPDIR: tmp,
    ...(vault.namespace ? { VAULT_NAMESPACE: vault.namespace } : {}),
    ...extra,
  };
}

async function run(
  label: string,
  env: Record<string, string>,
  args: string[],
  expectCode = 0,
): Promise<CliResult> {
  const res = await runCli(args, env);
  outputs.push({ label, res });
  assert.equal(res.code, expectCode, `${label}: ${res.stdout}${res.stderr}`);
  return res;
}

function storeAt(prefix: string): StateStore {
  const client = new VaultClient({ addr: vault.addr, token: () => vault.token, namespace: vault.namespace });
  return new StateStore(kvFor(client, vault.mount, 2), prefix, 'test');
}

/** Every version still retained of a certificate secret: the keys of replaced certificates count too. */
async function allPrivkeys(prefix: string, name: string): Promise<string[]> {
  const headers: Record<string, string> = {
    'X-Vault-Token': vault.token,
    ...(vault.namespace ? { 'X-Vault-Namespace': vault.namespace } : {}),
  };
  const keys: string[] = [];
  const meta = (await (
    await fetch(`${vault.addr}/v1/${vault.mount}/metadata/${prefix}/certificates/${name}`, { headers })
  ).json()) as { data: { current_version: number } };
  for (let v = 1; v <= meta.data.current_version; v++) {
    const res = (await (
      await fetch(`${vault.addr}/v1/${vault.mount}/data/${prefix}/certificates/${name}?version=${v}`, {
        headers,
      })
    ).json()) as { data?: { data?: { privkey?: string } } };
    if (res.data?.data?.privkey) keys.push(res.data.data.privkey);
  }
  return keys;
}

/** The flows a user runs, in one prefix, with one log format. */
async function flows(format: 'text' | 'json'): Promise<void> {
  const prefix = `${vault.prefix}/${format}`;
  const env = envFor(prefix, format);
  const d = `${stack.bind.unique()}.example.test`;
  const bindSettings = [`server=${stack.dnsServer}`, `tsig-key=${stack.bind.keys.sha256.name}`];
  await run(`${format} register`, env, setupCommands(stack).register);
  await run(`${format} account show`, env, ['account', 'show', '--json']);
  await run(`${format} dns set rfc2136`, env, [
    'dns',
    'set',
    'bind',
    '--provider',
    'rfc2136',
    ...bindSettings,
    'tsig-secret=@env:TSIG_SECRET',
  ]);
  await run(`${format} dns set dnsimple`, env, [
    'dns',
    'set',
    'shop',
    '--provider',
    'dnsimple',
    'token=@env:DNSIMPLE_TOKEN',
  ]);
  await run(`${format} dns set wrong`, env, [
    'dns',
    'set',
    'wrong',
    '--provider',
    'rfc2136',
    ...bindSettings,
    'tsig-secret=@env:WRONG_TSIG',
  ]);
  await run(`${format} dns list`, env, ['dns', 'list']);
  await run(`${format} dns list --json`, env, ['dns', 'list', '--json']);
  await run(`${format} issue`, env, ['issue', '-d', d, '--dns', 'bind', '--json']);
  await run(
    `${format} issue failing`,
    env,
    ['issue', '-d', `x${d}`, '--dns', 'wrong', '--propagation-timeout', '5'],
    1,
  );
  await run(`${format} renew`, env, ['renew', '--force']);
  await run(`${format} renew --json`, env, ['renew', '--force', '--json', d]);
  await run(`${format} list`, env, ['list']);
  await run(`${format} list --json`, env, ['list', '--json']);
  await run(`${format} show`, env, ['show', d]);
  await run(`${format} show --json --pem`, env, ['show', d, '--json', '--pem']);
  await run(`${format} doctor`, env, ['doctor']);
  await run(`${format} doctor --json`, env, ['doctor', '--json', '--name', d]);
  await run(`${format} policy`, env, ['policy', 'issuer']);
  await run(`${format} policy --json`, env, ['policy', 'reader', '--name', d, '--json']);

  // The seed's layout, imported: account key (JWK), certificate key and DNSimple token.
  const seed = `${prefix}-seed`;
  const jwk = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
    format: 'jwk',
  }) as Record<string, string>;
  const seedCert = await makeCert(['seed.example.com']);
  const admin = storeAt(seed);
  await admin.kv.write(`${seed}/account/private_key`, jwk);
  await admin.kv.write(`${seed}/account/regr`, {
    uri: 'https://acme-v02.api.letsencrypt.org/acme/acct/42',
    body: { contact: ['mailto:ops@example.com'] },
  });
  await admin.kv.write(`${seed}/certificates/seed.example.com`, {
    cert: seedCert.cert,
    chain: seedCert.chain,
    privkey: seedCert.privkey,
  });
  await admin.kv.write(`${seed}-dnsimple`, { token: DNSIMPLE_TOKEN });
  for (const k of ['d', 'p', 'q', 'dp', 'dq', 'qi']) secrets.set(jwk[k]!, `seed account key (JWK ${k})`);
  addSecret('seed certificate key', seedCert.privkey);
  const seedEnv = envFor(seed, format);
  await run(`${format} import seed --dry-run`, seedEnv, [
    'import',
    'seed',
    '--dnsimple-path',
    `${seed}-dnsimple`,
    '--dry-run',
  ]);
  await run(`${format} import seed`, seedEnv, [
    'import',
    'seed',
    '--dnsimple-path',
    `${seed}-dnsimple`,
    '--json',
  ]);

  // What the flows stored: the account key and every certificate key, old and new.
  const store = storeAt(prefix);
  for (const server of await store.kv.list(store.path('accounts')))
    addSecret(`${format} account key`, (await store.getAccount(server))!.value.key);
  for (const key of await allPrivkeys(prefix, d)) addSecret(`${format} certificate key`, key);
  assert.ok((await allPrivkeys(prefix, d)).length >= 3, 'issued, then renewed twice');
}

test('no secret on stdout or stderr, text logs', async () => {
  await flows('text');
});

test('no secret on stdout or stderr, json logs', async () => {
  await flows('json');
});

test('AppRole logins at debug level print neither the secret id nor the token they get', async (t) => {
  const emu = vault.emulator;
  if (!emu) return t.skip('needs the emulator');
  emu.setPolicy('hygiene', 'path "*" { capabilities = ["create", "read", "update", "delete", "list"] }');
  const { roleId, secretId } = emu.addAppRole({ name: 'hygiene', policies: ['hygiene'], ttl: '2s' });
  addSecret('AppRole secret id', secretId);
  addSecret('AppRole role id', roleId);
  emu.resetLog();
  for (const format of ['text', 'json']) {
    const env = envFor(`${vault.prefix}/${format}`, format, {
      VAULT_ROLE_ID: roleId,
      VAULT_SECRET_ID: secretId,
    });
    delete (env as Record<string, string | undefined>).VAULT_TOKEN;
    await run(`${format} approle list`, env, ['list', '--json']);
    await run(`${format} approle doctor`, env, ['doctor']);
    await run(`${format} approle failing login`, { ...env, VAULT_SECRET_ID: `${secretId}x` }, ['list'], 1);
  }
  // Tokens handed out by the logins are secrets too (the emulator's log has them only as paths).
  assert.ok(emu.requests.some((r) => r.path === 'auth/approle/login'));
});

test('local store: every file certvault writes is 0600, every folder 0700, no temp file left', async () => {
  const root = await mkdtemp(join(tmpdir(), 'certvault-hygiene-store-'));
  const env = {
    CERTVAULT_STORE: `file:${root}`,
    CERTVAULT_ACME_CA_CERT: stack.acmeCaFile,
    TSIG_SECRET: stack.bind.keys.sha256.secret,
    TMPDIR: tmp,
  };
  const d = `${stack.bind.unique()}.example.test`;
  const setup = setupCommands(stack);
  await run('local register', env, setup.register);
  await run('local dns set', env, setup.dnsSet);
  await run('local issue', env, ['issue', '-d', d, '--dns', 'bind']);
  await run('local renew', env, ['renew', '--force']);
  const walk = async (p: string): Promise<string[]> => {
    const s = await stat(p);
    const mode = s.mode & 0o777;
    if (!s.isDirectory()) {
      assert.equal(mode, 0o600, `${p} is mode ${mode.toString(8)}`);
      return [p];
    }
    assert.equal(mode, 0o700, `${p} is mode ${mode.toString(8)}`);
    return (await Promise.all((await readdir(p)).map((n) => walk(join(p, n))))).flat();
  };
  const files = await walk(root);
  assert.ok(
    files.some((f) => f.includes(`certificates/${d}`)),
    'the certificate is stored',
  );
  assert.deepEqual(
    files.filter((f) => /\.tmp|\.lock/.test(f)),
    [],
    'no temporary or lock files left',
  );
  assert.deepEqual(await readdir(tmp), [], 'no temp files left');
});

test('scan: no secret in any output of the runs above, no temp files', async () => {
  assert.ok(outputs.length > 40, `${outputs.length} runs scanned`);
  assert.ok(secrets.size > 20, `${secrets.size} secret strings`);
  for (const { label, res } of outputs) {
    const text = res.stdout + res.stderr;
    for (const [s, what] of secrets) assert.ok(!text.includes(s), `${label} printed the ${what}`);
    assert.doesNotMatch(text, /PRIVATE KEY/, `${label} printed a private key`);
    assert.doesNotMatch(text, /hv[sb]\.[A-Za-z0-9]{20,}/, `${label} printed a Vault token`);
    assert.doesNotMatch(res.stdout, /"privkey"/, `${label}: a private key field on stdout`);
  }
  // The debug runs did log (so the scan looked at real log lines).
  assert.ok(
    outputs.some(({ res }) => /"level":20/.test(res.stderr)),
    'json debug lines',
  );
  assert.ok(
    outputs.some(({ res }) => /^debug: /m.test(res.stderr)),
    'text debug lines',
  );
  assert.deepEqual(await readdir(tmp), [], 'no temp files left');
});
