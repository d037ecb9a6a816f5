// Least privilege, proven end to end: tokens carrying ONLY the policies `certvault policy` prints
// (plus Vault's default) run the real workflows against Pebble + BIND, and are refused the rest.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { VaultClient } from '../src/vault/client.js';
import { kvFor } from '../src/vault/kv.js';
import { StateStore } from '../src/store/store.js';
import { certificateMatchesKey } from '../src/pki/cert.js';
import { runCli, type CliResult } from './support/cli.js';
import { setupCommands, startStack, type Stack } from './support/stack.js';
import { testVault, type TestVault } from './support/vault.js';
import { deletePolicy, tokenWith, vaultAs, writePolicy } from './support/identities.js';

let stack: Stack;
let vault: TestVault;
let prefix: string;
let base: Record<string, string>;
let admin: StateStore;
const tokens: Record<'issuer' | 'renewer' | 'reader', string> = { issuer: '', renewer: '', reader: '' };
const policyNames: string[] = [];
let certA: string;
let certB: string;

before(async () => {
  stack = await startStack();
  vault = await testVault();
  prefix = `${vault.prefix}/roles`;
  base = {
    VAULT_ADDR: vault.addr,
    CERTVAULT_VAULT_MOUNT: vault.mount,
    CERTVAULT_VAULT_PREFIX: prefix,
    CERTVAULT_ACME_CA_CERT: stack.acmeCaFile,
    TSIG_SECRET: stack.bind.keys.sha256.secret,
    ...(vault.namespace ? { VAULT_NAMESPACE: vault.namespace } : {}),
  };
  certA = `${stack.bind.unique()}.example.test`;
  certB = `${stack.bind.unique()}.example.test`;
  // The policies are exactly what the CLI prints for this mount and prefix.
  for (const [role, extra] of [
    ['issuer', []],
    ['renewer', []],
    ['reader', ['--name', certA]],
  ] as const) {
    const printed = await runCli(['policy', role, ...extra], base);
    assert.equal(printed.code, 0, printed.stderr);
    const name = `${vault.prefix}-${role}`;
    await writePolicy(vault, name, printed.stdout);
    policyNames.push(name);
    tokens[role] = await tokenWith(vault, [name]);
  }
  const client = new VaultClient({ addr: vault.addr, token: () => vault.token, namespace: vault.namespace });
  admin = new StateStore(kvFor(client, vault.mount, 2), prefix, 'test');
});

after(async () => {
  if (vault && !vault.emulator) for (const name of policyNames) await deletePolicy(vault, name);
  await vault?.close();
  await stack?.stop();
});

const as = (role: keyof typeof tokens, ...args: string[]): Promise<CliResult> =>
  runCli(args, { ...base, VAULT_TOKEN: tokens[role] });
const dnsSet = ['dns', 'set', 'bind', '--provider', 'rfc2136'];
const dnsSettings = (): string[] => [
  `server=${stack.dnsServer}`,
  `tsig-key=${stack.bind.keys.sha256.name}`,
  'tsig-secret=@env:TSIG_SECRET',
];

/** A refused write: exit 1, one line naming the denied path and pointing at `certvault policy`. */
function assertDenied(res: CliResult, path: RegExp): void {
  assert.equal(res.code, 1, res.stdout + res.stderr);
  assert.match(res.stderr, /Vault denied/);
  assert.match(res.stderr, path);
  assert.match(res.stderr, /certvault policy/);
}

test('issuer: registers, stores DNS credentials, issues and lists', async () => {
  const reg = await as('issuer', ...setupCommands(stack).register);
  assert.equal(reg.code, 0, reg.stderr);
  const dns = await as('issuer', ...dnsSet, ...dnsSettings());
  assert.equal(dns.code, 0, dns.stderr);
  for (const d of [certA, certB]) {
    const res = await as('issuer', 'issue', '-d', d, '--dns', 'bind');
    assert.equal(res.code, 0, res.stderr);
  }
  const list = await as('issuer', 'list', '--json');
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual(
    (JSON.parse(list.stdout) as { name: string }[]).map((c) => c.name).sort(),
    [certA, certB].sort(),
  );
});

test('renewer: renews everything due with renew --force', async () => {
  const before = await Promise.all(
    [certA, certB].map(async (n) => (await admin.getCertificateSummary(n))!.version),
  );
  const res = await as('renewer', 'renew', '--force', '--json');
  assert.equal(res.code, 0, res.stdout + res.stderr);
  const entries = JSON.parse(res.stdout) as { name: string; outcome: string }[];
  assert.deepEqual(
    entries.map((e) => [e.name, e.outcome]).sort(),
    [
      [certA, 'renewed'],
      [certB, 'renewed'],
    ].sort(),
  );
  for (const [i, n] of [certA, certB].entries()) {
    const c = await admin.getCertificate(n);
    assert.equal(c?.version, before[i]! + 1, `${n}: a new version`);
    assert.ok(certificateMatchesKey(c!.material.cert, c!.material.privkey));
    assert.equal(await admin.getJournal(n), null);
  }
  const show = await as('renewer', 'show', certA, '--json');
  assert.equal(show.code, 0, show.stderr);
});

test('renewer: cannot issue a new name, and is stopped before the CA issues anything', async () => {
  const d = `${stack.bind.unique()}.example.test`;
  const orders = stack.pebble.countOrders();
  // With the CA given: refused before ordering, naming the create it lacks on the new name.
  const res = await as('renewer', 'issue', '-d', d, '--dns', 'bind', '--server', stack.pebble.directoryUrl);
  assertDenied(res, new RegExp(`create on [^;]*/certificates/${d.replace(/\./g, '\\.')}`));
  assert.match(res.stderr, /before ordering/);
  assert.equal(stack.pebble.countOrders(), orders, 'no order placed');
  assert.equal(await admin.getCertificateSummary(d), null);
  assert.equal(await admin.getParams(d), null);
  assert.equal(await admin.getJournal(d), null, 'no journal left behind');
  // Without it, the default server is a setting the renewer may not even read.
  assertDenied(await as('renewer', 'issue', '-d', `x${d}`, '--dns', 'bind'), /settings/);
});

test('renewer: cannot change DNS credentials or the account', async () => {
  const dnsBefore = await admin.getDns('bind');
  assertDenied(await as('renewer', ...dnsSet, ...dnsSettings()), /dns\/bind/);
  assertDenied(
    await as('renewer', 'dns', 'set', 'other', '--provider', 'rfc2136', ...dnsSettings()),
    /dns\/other/,
  );
  assertDenied(await as('renewer', 'dns', 'remove', 'bind'), /dns\/bind/);
  assert.deepEqual(await admin.getDns('bind'), dnsBefore, 'DNS credentials untouched');
  assert.equal(await admin.getDns('other'), null);
  // Another directory URL of the same CA is another account: registering it is refused at the store.
  const other = stack.pebble.directoryUrl.replace('127.0.0.1', 'localhost');
  assertDenied(
    await as(
      'renewer',
      'account',
      'register',
      '--server',
      other,
      '--email',
      'ops@example.test',
      '--agree-tos',
    ),
    /accounts\//,
  );
  const accounts = await admin.kv.list(admin.path('accounts'));
  assert.equal(accounts.length, 1, "only the issuer's account is stored");
  const account = await admin.getAccount(accounts[0]!);
  const write = await vaultAs(
    vault,
    tokens.renewer,
    'POST',
    `${vault.mount}/data/${prefix}/accounts/${accounts[0]}`,
    { data: { ...account!.value, url: 'https://evil.example/acct/1' } },
  );
  assert.equal(write.status, 403, 'the account record cannot be overwritten');
});

test('reader: reads its one certificate (as Vault Agent would) and nothing else', async () => {
  const read = (path: string, method = 'GET', body?: unknown) =>
    vaultAs(vault, tokens.reader, method, `${vault.mount}/${path}`, body);
  const own = await read(`data/${prefix}/certificates/${certA}`);
  assert.equal(own.status, 200);
  const data = (own.body as { data: { data: Record<string, string> } }).data.data;
  assert.ok(data.cert && data.chain && data.fullchain && data.privkey, 'cert, chain, fullchain and privkey');
  assert.ok(certificateMatchesKey(data.cert, data.privkey!));
  const denied: [string, string, unknown?][] = [
    ['GET', `data/${prefix}/certificates/${certB}`],
    ['GET', `metadata/${prefix}/certificates/${certA}`],
    ['GET', `metadata/${prefix}/certificates/?list=true`],
    ['GET', `data/${prefix}/params/${certA}`],
    ['GET', `data/${prefix}/dns/bind`],
    ['GET', `data/${prefix}/settings`],
    ['POST', `data/${prefix}/certificates/${certA}`, { data: { cert: 'x' } }],
  ];
  for (const [method, path, body] of denied)
    assert.equal((await read(path, method, body)).status, 403, `${method} ${path}`);
  const accounts = await admin.kv.list(admin.path('accounts'));
  assert.equal((await read(`data/${prefix}/accounts/${accounts[0]}`)).status, 403);
  const list = await as('reader', 'list');
  assert.equal(list.code, 1);
  assert.match(list.stderr, /certvault policy/);
});

test('doctor agrees with the policies: which workflows each identity may run, and what is missing', async () => {
  const workflows = async (role: keyof typeof tokens, ...args: string[]) => {
    const res = await as(role, 'doctor', '--json', ...args);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    const checks = (
      JSON.parse(res.stdout) as {
        checks: { name: string; ok: boolean; missing?: { capability: string; path: string }[] }[];
      }
    ).checks;
    return Object.fromEntries(
      checks.filter((c) => c.name.startsWith('can ')).map((c) => [c.name.slice(4), c]),
    );
  };
  const issuer = await workflows('issuer');
  assert.deepEqual(
    Object.entries(issuer)
      .filter(([, c]) => !c.ok)
      .map(([w]) => w),
    [],
  );
  const renewer = await workflows('renewer');
  assert.deepEqual(
    Object.entries(renewer)
      .filter(([, c]) => c.ok)
      .map(([w]) => w)
      .sort(),
    ['list', 'read', 'renew'],
  );
  assert.ok(
    renewer.issue!.missing!.some(
      (m) => m.capability === 'create' && m.path === `${vault.mount}/data/${prefix}/certificates/example.com`,
    ),
  );
  assert.ok(
    renewer.setup!.missing!.some(
      (m) => m.capability === 'update' && m.path === `${vault.mount}/data/${prefix}/dns/example`,
    ),
  );
  const reader = await workflows('reader', '--name', certA);
  assert.deepEqual(
    Object.entries(reader)
      .filter(([, c]) => c.ok)
      .map(([w]) => w),
    ['read'],
  );
  const readerNoName = await workflows('reader');
  assert.equal(readerNoName.read!.ok, false, "a sample name is not the reader's certificate");
});
