// Token lifetime in long runs: renew-self before expiry (given tokens and login tokens), a new login
// when Vault says the token expired (AppRole), a clear error when a given token expired.
// Short TTLs, the emulator's clock and its latency faults make the runs "long"; emulator only.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type OpenedStore } from '../src/store/open.js';
import { VaultClient } from '../src/vault/client.js';
import { kvFor } from '../src/vault/kv.js';
import { StateStore } from '../src/store/store.js';
import { silentLogger } from '../src/ops/log.js';
import { runCli } from './support/cli.js';
import { makeCert } from './support/certs.js';
import { testVault, type TestVault } from './support/vault.js';

let vault: TestVault;
let dir: string;
let base: Record<string, string>;
const real = Boolean(process.env.CERTVAULT_TEST_VAULT_ADDR);
const NAMES = ['a.renewal.example.test', 'b.renewal.example.test'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  if (real) return;
  vault = await testVault();
  dir = await mkdtemp(join(tmpdir(), 'certvault-renewal-'));
  base = { VAULT_ADDR: vault.addr, CERTVAULT_VAULT_MOUNT: vault.mount, CERTVAULT_VAULT_PREFIX: vault.prefix };
  const printed = await runCli(['policy', 'renewer'], base);
  assert.equal(printed.code, 0, printed.stderr);
  vault.emulator!.setPolicy('renewer', printed.stdout);
  const admin = new StateStore(
    kvFor(new VaultClient({ addr: vault.addr, token: () => vault.token }), vault.mount, 2),
    vault.prefix,
    'test',
  );
  for (const n of NAMES) await admin.putCertificate(n, await makeCert([n]), 0);
});

after(async () => {
  await vault?.close();
});

const count = (path: string): number =>
  vault.emulator!.requests.filter((r) => r.method === 'POST' && r.path === path && r.status < 300).length;

/** Opens the store as the CLI does, with a given token or an AppRole login from files. */
async function open(auth: {
  token?: string;
  approle?: { roleId: string; secretId: string };
}): Promise<OpenedStore> {
  const saved = process.env.VAULT_TOKEN;
  if (auth.token) process.env.VAULT_TOKEN = auth.token;
  else delete process.env.VAULT_TOKEN;
  try {
    const a = auth.approle;
    const files = a
      ? { roleIdFile: join(dir, `r-${a.roleId}`), secretIdFile: join(dir, `s-${a.roleId}`) }
      : undefined;
    if (a && files) {
      await writeFile(files.roleIdFile, a.roleId, { mode: 0o600 });
      await writeFile(files.secretIdFile, a.secretId, { mode: 0o600 });
    }
    return await openStore({
      vault: { addr: vault.addr },
      auth: files ? { method: 'approle', ...files } : { method: 'token' },
      mount: vault.mount,
      prefix: vault.prefix,
      logger: silentLogger,
    });
  } finally {
    if (saved === undefined) delete process.env.VAULT_TOKEN;
    else process.env.VAULT_TOKEN = saved;
  }
}

test('a given renewable token is renewed at 2/3 of its TTL and outlives it', async (t) => {
  if (real) return t.skip('needs the emulator');
  const token = vault.emulator!.createToken({ policies: ['renewer'], ttl: '3s' });
  const before = count('auth/token/renew-self');
  const opened = await open({ token });
  try {
    await sleep(4_000); // past the original expiry
    assert.ok(count('auth/token/renew-self') - before >= 1, 'renew-self was called');
    assert.deepEqual((await opened.store.listCertificateNames()).sort(), NAMES);
  } finally {
    opened.vault!.auth.close();
  }
});

test('a failed renewal is tried again before the token expires', async (t) => {
  if (real) return t.skip('needs the emulator');
  const emu = vault.emulator!;
  const token = emu.createToken({ policies: ['renewer'], ttl: '6s' });
  const failures = emu.addFault({ method: 'POST', path: 'auth/token/renew-self', status: 500, count: 1 });
  const before = count('auth/token/renew-self');
  const opened = await open({ token });
  try {
    await sleep(6_500); // past the original expiry
    assert.equal(failures.fired, 1, 'the first renewal failed');
    assert.ok(count('auth/token/renew-self') - before >= 1, 'a later renewal succeeded');
    assert.deepEqual((await opened.store.listCertificateNames()).sort(), NAMES);
  } finally {
    failures();
    opened.vault!.auth.close();
  }
});

test('CLI: a long run renews a short-TTL token (given or AppRole) and finishes after the original expiry', async (t) => {
  if (real) return t.skip('needs the emulator');
  const emu = vault.emulator!;
  // The certificate LIST answers after 3.5 s: later than a 3 s token lives without renewal.
  const slow = emu.addFault({
    method: 'LIST',
    path: `${vault.mount}/metadata/${vault.prefix}/certificates/`,
    latencyMs: 3_500,
  });
  try {
    const token = emu.createToken({ policies: ['renewer'], ttl: '3s' });
    const { roleId, secretId } = emu.addAppRole({ name: 'short', policies: ['renewer'], ttl: '3s' });
    for (const env of [{ VAULT_TOKEN: token }, { VAULT_ROLE_ID: roleId, VAULT_SECRET_ID: secretId }]) {
      const before = count('auth/token/renew-self');
      const res = await runCli(['list', '--json', '--log-level', 'debug'], { ...base, ...env });
      assert.equal(res.code, 0, res.stderr);
      assert.deepEqual((JSON.parse(res.stdout) as { name: string }[]).map((c) => c.name).sort(), NAMES);
      assert.ok(count('auth/token/renew-self') - before >= 1, 'renewed before the LIST answered');
      assert.match(res.stderr, /renewed the Vault token/);
    }
  } finally {
    slow();
  }
});

test('AppRole: an expired token leads to one new login and the request is retried', async (t) => {
  if (real) return t.skip('needs the emulator');
  const emu = vault.emulator!;
  const creds = emu.addAppRole({ name: 'expiring', policies: ['renewer'], ttl: '60s' });
  const opened = await open({ approle: creds });
  try {
    const logins = count('auth/approle/login');
    emu.advanceTime(61_000); // the token is gone; the renewal timer (40 s of real time) has not run
    // Concurrent requests that all meet the expired token share one login.
    const results = await Promise.all(
      NAMES.flatMap((n) => [opened.store.getCertificateSummary(n), opened.store.getCertificateSummary(n)]),
    );
    assert.ok(results.every((r) => r !== null));
    assert.equal(count('auth/approle/login') - logins, 1, 'one new login');
    assert.equal(opened.vault!.auth.counts.logins, 2);
  } finally {
    opened.vault!.auth.close();
  }
});

test('a given token that expired is a clear error, in-process and on the CLI', async (t) => {
  if (real) return t.skip('needs the emulator');
  const emu = vault.emulator!;
  const token = emu.createToken({ policies: ['renewer'], ttl: '60s' });
  const opened = await open({ token });
  try {
    emu.advanceTime(61_000);
    await assert.rejects(opened.store.listCertificateNames(), (err: Error) => {
      assert.match(
        err.message,
        /Vault denied GET .*: the token from VAULT_TOKEN is expired, revoked or unknown/,
      );
      return true;
    });
  } finally {
    opened.vault!.auth.close();
  }
  const res = await runCli(['list'], { ...base, VAULT_TOKEN: token });
  assert.equal(res.code, 1);
  assert.equal(res.stderr.trim().split('\n').length, 1, res.stderr);
  assert.match(
    res.stderr,
    /the token from VAULT_TOKEN is expired, revoked or unknown; get a fresh token \(vault login/,
  );
  assert.ok(!res.stderr.includes(token));
  const none = await runCli(['list'], { ...base, HOME: dir });
  assert.equal(none.code, 2, 'no token at all is a set-up error');
  assert.match(none.stderr, /no Vault token was found \(looked at .*\.vault-token\)/);
});

test('re-login works with Vault >= 1.17 ("invalid token") and OpenBao answers too', async (t) => {
  if (real) return t.skip('needs the emulator');
  for (const options of [{ invalidTokenStyle: 'vault-1.17' as const }, { flavor: 'openbao' as const }]) {
    const other = await testVault(options);
    try {
      const emu = other.emulator!;
      emu.setPolicy('all', 'path "secret/*" { capabilities = ["create", "read", "update", "list"] }');
      const { roleId, secretId } = emu.addAppRole({ name: 'x', policies: ['all'], ttl: '60s' });
      await writeFile(join(dir, 'x-role'), roleId);
      await writeFile(join(dir, 'x-secret'), secretId);
      const opened = await openStore({
        vault: { addr: other.addr },
        auth: { method: 'approle', roleIdFile: join(dir, 'x-role'), secretIdFile: join(dir, 'x-secret') },
        mount: other.mount,
        prefix: other.prefix,
        logger: silentLogger,
      });
      try {
        emu.advanceTime(61_000);
        assert.deepEqual(await opened.store.listCertificateNames(), []);
        assert.equal(opened.vault!.auth.counts.logins, 2, JSON.stringify(options));
      } finally {
        opened.vault!.auth.close();
      }
    } finally {
      await other.close();
    }
  }
});
