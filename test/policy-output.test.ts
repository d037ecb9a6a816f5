// `certvault policy`: the printed HCL and JSON are valid Vault policies granting the same thing, each
// path says why, the renewer stays narrow, --name and --kv-version change the paths as they should,
// and `doctor` agrees with the policies on KV v2 and KV v1 (policies and tokens go through Vault's
// API, so this runs against a real Vault too).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { indexShard } from '../src/store/summary-index.js';
import { checkIssueAccess } from '../src/core/access.js';
import { policyHcl, policyRules, ROLE_WORKFLOWS, WORKFLOWS, type Role } from '../src/core/policy.js';
import { VaultClient } from '../src/vault/client.js';
import { runCli } from './support/cli.js';
import { testVault, type TestVault } from './support/vault.js';
import { deletePolicy, tokenWith, vaultAs, writePolicy } from './support/identities.js';

let vault: TestVault;
const written: string[] = [];

before(async () => {
  vault = await testVault();
});
after(async () => {
  if (vault && !vault.emulator) for (const p of written) await deletePolicy(vault, p);
  await vault?.close();
});

const env = (mount: string, prefix: string, token?: string): Record<string, string> => ({
  VAULT_ADDR: vault.addr,
  CERTVAULT_VAULT_MOUNT: mount,
  CERTVAULT_VAULT_PREFIX: prefix,
  ...(token ? { VAULT_TOKEN: token } : {}),
  ...(vault.namespace ? { VAULT_NAMESPACE: vault.namespace } : {}),
});

async function printed(mount: string, prefix: string, ...args: string[]): Promise<string> {
  const res = await runCli(['policy', ...args], env(mount, prefix));
  assert.equal(res.code, 0, res.stderr);
  return res.stdout;
}

async function tokenFor(name: string, policy: string): Promise<string> {
  await writePolicy(vault, name, policy);
  written.push(name);
  return tokenWith(vault, [name]);
}

test('HCL: a comment saying why above every path; the header names mount, prefix and KV version', async () => {
  const hcl = await printed('kv', 'acme/le', 'renewer');
  assert.match(
    hcl,
    /^# certvault renewer policy: renewing stored certificates\.\n# KV v2 mount "kv", prefix "acme\/le", all certificates\./,
  );
  const lines = hcl.split('\n');
  const paths = lines.map((l, i) => [l, i] as const).filter(([l]) => l.startsWith('path "'));
  assert.ok(paths.length >= 10);
  for (const [l, i] of paths) {
    assert.match(l, /^path "kv\/(data|metadata)\/acme\/le\//);
    assert.match(lines[i - 1]!, /^# \S/, `no comment above ${l}`);
  }
});

test('the renewer is exactly as narrow as documented', () => {
  const rules = Object.fromEntries(
    policyRules('renewer', { mount: 'secret', prefix: 'le', kvVersion: 2 }).map((r) => [
      r.path,
      r.capabilities.join(','),
    ]),
  );
  assert.deepEqual(rules, {
    'secret/metadata/le/certificates/': 'list',
    'secret/metadata/le/certificates/*': 'read,update',
    'secret/data/le/certificates/*': 'read,update',
    'secret/data/le/params/*': 'read',
    'secret/data/le/state/*': 'create,read,update',
    'secret/data/le/locks/*': 'create,read,update',
    'secret/metadata/le/locks/*': 'read',
    'secret/metadata/le/orders/': 'list',
    'secret/data/le/orders/*': 'create,read,update',
    'secret/metadata/le/orders/*': 'delete',
    'secret/data/le/index/*': 'create,read,update',
    'secret/metadata/le/index/*': 'read',
    'secret/data/le/accounts/*': 'read',
    'secret/data/le/dns/*': 'read',
  });
  const reader = policyRules('reader', {
    mount: 'secret',
    prefix: 'le',
    kvVersion: 2,
    name: 'www.example.com',
  });
  assert.deepEqual(
    reader.map((r) => [r.path, r.capabilities]),
    [['secret/data/le/certificates/www.example.com', ['read']]],
  );
});

test("--json is the same policy in Vault's JSON form", async (t) => {
  const prefix = `${vault.prefix}/json`;
  const json = JSON.parse(await printed(vault.mount, prefix, 'issuer', '--json')) as {
    path: Record<string, { capabilities: string[] }>;
  };
  const rules = policyRules('issuer', { mount: vault.mount, prefix, kvVersion: 2 });
  assert.deepEqual(
    Object.keys(json.path),
    rules.map((r) => r.path),
  );
  for (const r of rules) assert.deepEqual(json.path[r.path]!.capabilities, r.capabilities);
  // Vault accepts both forms and they grant the same: compare what capabilities-self reports.
  const fromHcl = await tokenFor(`${vault.prefix}-hcl`, await printed(vault.mount, prefix, 'issuer'));
  const fromJson = await tokenFor(`${vault.prefix}-json`, JSON.stringify(json));
  const probe = [
    ...rules.map((r) => r.path.replace(/\*$/, 'x.example.com')),
    `${vault.mount}/data/${prefix}/other/x`,
  ];
  const caps = async (token: string) =>
    (await vaultAs(vault, token, 'POST', 'sys/capabilities-self', { paths: probe })).body as Record<
      string,
      unknown
    >;
  const [a, b] = [await caps(fromHcl), await caps(fromJson)];
  for (const p of probe) assert.deepEqual(a[p], b[p], p);
  assert.deepEqual(a[`${vault.mount}/data/${prefix}/other/x`], ['deny']);
  if (!vault.emulator) t.diagnostic('checked against a real Vault');
});

test('--name limits per-certificate paths to one certificate', async () => {
  const prefix = `${vault.prefix}/named`;
  const token = await tokenFor(
    `${vault.prefix}-named`,
    await printed(vault.mount, prefix, 'renewer', '--name', 'a.example.com'),
  );
  const write = (name: string) =>
    vaultAs(vault, token, 'POST', `${vault.mount}/data/${prefix}/state/${name}`, { data: { failures: 0 } });
  assert.equal((await write('a.example.com')).status, 200);
  assert.equal((await write('b.example.com')).status, 403);
  const hcl = await printed(vault.mount, prefix, 'renewer', '--name', 'a.example.com');
  assert.match(hcl, /certificate "a\.example\.com"\./);
  assert.ok(
    !/certificates\/\*|state\/\*|orders\/\*|locks\/\*|params\/\*|index\/\*/.test(hcl),
    'no wildcard on per-certificate folders',
  );
  // The index shard holding this name (other names hashing there share it: non-secret facts only).
  assert.ok(hcl.includes(`${prefix}/index/${indexShard('a.example.com')}"`), hcl);
  assert.match(hcl, /accounts\/\*/, 'the account is still any server');
});

test('usage errors: unknown role, reader without --name, bad --kv-version, bad name', async () => {
  const cases: [string[], RegExp][] = [
    [['admin'], /unknown role "admin"; use one of issuer, renewer, reader/],
    [['reader'], /the reader policy is for one certificate; pass --name CERT/],
    [['issuer', '--kv-version', '3'], /invalid --kv-version "3"; use 1 or 2/],
    [['reader', '--name', '../x'], /invalid certificate name/],
  ];
  for (const [args, message] of cases) {
    const res = await runCli(['policy', ...args], env('secret', 'le'));
    assert.equal(res.code, 2, args.join(' '));
    assert.match(res.stderr, message);
  }
});

/** Which workflows `doctor` says a token may run. */
async function allowed(mount: string, prefix: string, token: string, ...args: string[]): Promise<string[]> {
  const res = await runCli(['doctor', '--json', ...args], env(mount, prefix, token));
  assert.equal(res.code, 0, res.stdout + res.stderr);
  const checks = (JSON.parse(res.stdout) as { checks: { name: string; ok: boolean }[] }).checks;
  return checks
    .filter((c) => c.name.startsWith('can ') && c.ok)
    .map((c) => c.name.slice(4))
    .sort();
}

for (const kv of [2, 1] as const) {
  test(`doctor agrees with every role's policy (KV v${kv})`, async (t) => {
    const mount = kv === 2 ? vault.mount : vault.kv1Mount;
    if (!mount) return t.skip('no KV v1 mount (CERTVAULT_TEST_VAULT_KV1_MOUNT)');
    const prefix = `${vault.prefix}/doctor${kv}`;
    // The issuer can do everything; the renewer's needs happen to cover listing and reading too.
    const expected: Record<Role, string[]> = {
      issuer: [...WORKFLOWS].sort(),
      renewer: ['list', 'read', 'renew'],
      reader: ['read'],
    };
    for (const role of ['issuer', 'renewer', 'reader'] as const) {
      const args = role === 'reader' ? ['--name', 'www.example.com'] : [];
      const token = await tokenFor(
        `${vault.prefix}-${role}-kv${kv}`,
        await printed(mount, prefix, role, '--kv-version', String(kv), ...args),
      );
      assert.deepEqual(await allowed(mount, prefix, token, ...args), expected[role], `${role} on KV v${kv}`);
      for (const w of ROLE_WORKFLOWS[role]) assert.ok(expected[role].includes(w));
    }
  });
}

test('KV v1: the issuer sets up DNS credentials, the renewer is refused', async (t) => {
  const mount = vault.kv1Mount;
  if (!mount) return t.skip('no KV v1 mount (CERTVAULT_TEST_VAULT_KV1_MOUNT)');
  const prefix = `${vault.prefix}/v1roles`;
  const issuer = await tokenFor(
    `${vault.prefix}-v1-issuer`,
    await printed(mount, prefix, 'issuer', '--kv-version', '1'),
  );
  const renewer = await tokenFor(
    `${vault.prefix}-v1-renewer`,
    await printed(mount, prefix, 'renewer', '--kv-version', '1'),
  );
  const settings = [
    'server=127.0.0.1:53',
    'tsig-key=k',
    `tsig-secret=${Buffer.alloc(32, 1).toString('base64')}`,
  ];
  const as = (token: string, ...args: string[]) => runCli(args, env(mount, prefix, token));
  assert.equal((await as(issuer, 'dns', 'set', 'corp', '--provider', 'rfc2136', ...settings)).code, 0);
  const list = await as(issuer, 'dns', 'list', '--json');
  assert.deepEqual(
    (JSON.parse(list.stdout) as { name: string }[]).map((d) => d.name),
    ['corp'],
  );
  const denied = await as(renewer, 'dns', 'set', 'corp', '--provider', 'rfc2136', ...settings);
  assert.equal(denied.code, 1);
  assert.match(denied.stderr, new RegExp(`Vault denied POST ${mount}/${prefix}/dns/corp .*certvault policy`));
  assert.equal((await as(renewer, 'list')).code, 0, 'the renewer lists certificates');
  assert.equal((await as(issuer, 'dns', 'remove', 'corp')).code, 0);
});

test("issue's check before ordering: a new name needs create, replacing one needs only update", async () => {
  const prefix = `${vault.prefix}/preflight`;
  const layout = { mount: vault.mount, prefix, kvVersion: 2 as const, name: 'www.example.com' };
  // The issuer's policy, except that certificates may be updated but not created.
  const hcl = policyHcl('issuer', layout).replace(
    /(path "[^"]*\/data\/[^"]*\/certificates\/www\.example\.com" \{\n {2}capabilities = )\[[^\]]*\]/,
    '$1["read", "update"]',
  );
  assert.doesNotMatch(hcl, /certificates\/www\.example\.com" \{\n {2}capabilities = \["create"/);
  const token = await tokenFor(`${vault.prefix}-preflight`, hcl);
  const client = new VaultClient({ addr: vault.addr, token: () => token, namespace: vault.namespace });
  await checkIssueAccess(client, layout, true);
  await assert.rejects(
    checkIssueAccess(client, layout, false),
    new RegExp(
      `before ordering: this token lacks create on ${vault.mount}/data/${prefix}/certificates/www\\.example\\.com$`,
    ),
  );
  // The full issuer policy passes either way.
  const full = await tokenFor(`${vault.prefix}-preflight-full`, policyHcl('issuer', layout));
  const fullClient = new VaultClient({ addr: vault.addr, token: () => full, namespace: vault.namespace });
  await checkIssueAccess(fullClient, layout, false);
});
