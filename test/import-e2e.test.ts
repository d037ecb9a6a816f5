// End-to-end migration: real Certbot registers and issues against Pebble, validating through BIND;
// its state is then (a) written into the Vault emulator exactly as the seed's scripts do and taken
// over with `import seed`, and (b) taken over straight from Certbot's directory with `import certbot`.
// Both must reuse Certbot's account (no new registration on Pebble), leave the certificates as they
// were, change nothing on a second run, and let certvault issue and renew with the imported state.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { VaultClient } from '../src/vault/client.js';
import { kvFor } from '../src/vault/kv.js';
import { StateStore } from '../src/store/store.js';
import type { ImportReport } from '../src/core/import-common.js';
import { runCli, type CliResult } from './support/cli.js';
import { setupCommands, startStack, type Stack } from './support/stack.js';
import { testVault, type TestVault } from './support/vault.js';

const run = promisify(execFile);

let stack: Stack;
let vault: TestVault;
let confDir: string;
let account: { id: string; dir: string; uri: string };
/** d1: ECDSA, two names. d2: wildcard + apex, RSA, reuse_key. */
let d1: string;
let d2: string;
const secrets: string[] = [];

before(async () => {
  stack = await startStack();
  vault = await testVault();
  const base = join(stack.dir, 'certbot');
  confDir = join(base, 'conf');
  mkdirSync(base, { recursive: true });
  const ini = join(base, 'rfc2136.ini');
  const key = stack.bind.keys.sha256;
  writeFileSync(
    ini,
    [
      `dns_rfc2136_server = ${stack.bind.host}`,
      `dns_rfc2136_port = ${stack.bind.port}`,
      `dns_rfc2136_name = ${key.name}`,
      `dns_rfc2136_secret = ${key.secret}`,
      'dns_rfc2136_algorithm = HMAC-SHA256',
      '',
    ].join('\n'),
  );
  chmodSync(ini, 0o600); // certbot warns about readable credentials
  secrets.push(key.secret);
  const certbot = (...args: string[]) =>
    run(
      'certbot',
      [
        'certonly',
        '--config-dir',
        confDir,
        '--work-dir',
        join(base, 'work'),
        '--logs-dir',
        join(base, 'logs'),
        '--server',
        stack.pebble.directoryUrl,
        '--non-interactive',
        '--agree-tos',
        '-m',
        'ops@example.test',
        '--no-eff-email',
        '--dns-rfc2136',
        '--dns-rfc2136-credentials',
        ini,
        '--dns-rfc2136-propagation-seconds',
        '1',
        ...args,
      ],
      { env: { ...process.env, REQUESTS_CA_BUNDLE: stack.acmeCaFile }, timeout: 120_000 },
    );
  d1 = `${stack.bind.unique()}.example.test`;
  d2 = `${stack.bind.unique()}.example.test`;
  await certbot('-d', d1, '-d', `www.${d1}`);
  await certbot(
    '-d',
    `*.${d2}`,
    '-d',
    d2,
    '--key-type',
    'rsa',
    '--rsa-key-size',
    '2048',
    '--reuse-key',
    '--cert-name',
    d2,
  );
  const serverDir = join(
    confDir,
    'accounts',
    new URL(stack.pebble.directoryUrl).host,
    new URL(stack.pebble.directoryUrl).pathname.slice(1),
  );
  const [id] = readdirSync(serverDir);
  assert.ok(id, 'certbot registered an account');
  const dir = join(serverDir, id);
  account = {
    id,
    dir,
    uri: (JSON.parse(readFileSync(join(dir, 'regr.json'), 'utf8')) as { uri: string }).uri,
  };
  secrets.push((JSON.parse(readFileSync(join(dir, 'private_key.json'), 'utf8')) as { d: string }).d);
  assert.equal(pebbleAccounts(), 1, 'certbot registered exactly once');
});

after(async () => {
  await vault?.close();
  await stack?.stop();
});

/** New accounts Pebble created ("There are now N accounts in memory" is logged once per registration). */
const pebbleAccounts = (): number =>
  stack.pebble.logs().match(/There are now \d+ accounts in memory/g)?.length ?? 0;

function envFor(prefix: string): Record<string, string> {
  return {
    VAULT_ADDR: vault.addr,
    VAULT_TOKEN: vault.token,
    CERTVAULT_VAULT_MOUNT: vault.mount,
    CERTVAULT_VAULT_PREFIX: prefix,
    CERTVAULT_ACME_CA_CERT: stack.acmeCaFile,
    TSIG_SECRET: stack.bind.keys.sha256.secret,
    ...(vault.namespace ? { VAULT_NAMESPACE: vault.namespace } : {}),
  };
}

async function cli(prefix: string, ...args: string[]): Promise<CliResult> {
  const res = await runCli(args, envFor(prefix));
  for (const s of secrets)
    assert.ok(
      !res.stdout.includes(s) && !res.stderr.includes(s),
      `a secret leaked in \`${args.slice(0, 2).join(' ')}\``,
    );
  return res;
}

function storeAt(prefix: string): StateStore {
  const client = new VaultClient({ addr: vault.addr, token: () => vault.token, namespace: vault.namespace });
  return new StateStore(kvFor(client, vault.mount, 2), prefix, 'test');
}

/** Raw Vault HTTP, as the `vault` CLI sends it. */
async function vaultHttp(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const headers: Record<string, string> = { 'X-Vault-Token': vault.token, 'X-Vault-Request': 'true' };
  if (vault.namespace) headers['X-Vault-Namespace'] = vault.namespace;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`${vault.addr}/v1/${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as unknown) : null };
}

/** `vault kv put <mount>/<path> ...` on KV v2: the data object is the secret. */
async function kvPut(path: string, data: Record<string, unknown>): Promise<void> {
  const res = await vaultHttp('POST', `${vault.mount}/data/${path}`, { data });
  assert.equal(res.status, 200, `kv put ${path}`);
}

async function kvGet(
  path: string,
): Promise<{ data: Record<string, string>; version: number; custom: Record<string, string> }> {
  const res = await vaultHttp('GET', `${vault.mount}/data/${path}`);
  const d = (
    res.json as {
      data: {
        data: Record<string, string>;
        metadata: { version: number; custom_metadata: Record<string, string> | null };
      };
    }
  ).data;
  return { data: d.data, version: d.metadata.version, custom: d.metadata.custom_metadata ?? {} };
}

/** Every key under a folder with its version, update time and custom metadata: what "changes nothing" compares. */
async function snapshot(folder: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const walk = async (f: string): Promise<void> => {
    const res = await vaultHttp('GET', `${vault.mount}/metadata/${f}/?list=true`);
    if (res.status === 404) return;
    for (const k of (res.json as { data: { keys: string[] } }).data.keys) {
      if (k.endsWith('/')) await walk(`${f}/${k.slice(0, -1)}`);
      else {
        const m = (await vaultHttp('GET', `${vault.mount}/metadata/${f}/${k}`)).json as {
          data: { current_version: number; updated_time: string; custom_metadata: unknown };
        };
        out[`${f}/${k}`] = [m.data.current_version, m.data.updated_time, m.data.custom_metadata];
      }
    }
  };
  await walk(folder);
  return out;
}

const live = (name: string, file: string): string =>
  readFileSync(join(confDir, 'live', name, `${file}.pem`), 'utf8');
const accountFile = (f: string): Record<string, unknown> =>
  JSON.parse(readFileSync(join(account.dir, `${f}.json`), 'utf8')) as Record<string, unknown>;
const report = (res: CliResult): ImportReport => JSON.parse(res.stdout) as ImportReport;
const actions = (r: ImportReport) => r.steps.map((s) => `${s.action} ${s.kind} ${s.name}`);

// ---- (a) the seed's Vault layout --------------------------------------------------------------------

test('seed layout: import without re-registering, certificate secret untouched; a second run changes nothing', async () => {
  const prefix = `${vault.prefix}/seed`;
  const dnsimplePath = `${vault.prefix}/dnsimple`;
  // What the write-up's commands store: `vault kv put secret/lets-encrypt/account/$i @$i.json`, ...
  await kvPut(`${prefix}/account/extra_details`, { account_id: account.id });
  for (const i of ['meta', 'private_key', 'regr']) await kvPut(`${prefix}/account/${i}`, accountFile(i));
  await kvPut(dnsimplePath, { token: 'seed-dnsimple-token-not-used-here' });
  secrets.push('seed-dnsimple-token-not-used-here');
  await kvPut(`${prefix}/certificates/${d1}`, {
    cert: live(d1, 'cert'),
    chain: live(d1, 'chain'),
    privkey: live(d1, 'privkey'),
  });
  const seedSecret = await kvGet(`${prefix}/certificates/${d1}`);

  const dns = await cli(prefix, ...setupCommands(stack).dnsSet);
  assert.equal(dns.code, 0, dns.stderr);
  const seedArgs = [
    'import',
    'seed',
    '--dns',
    'bind',
    '--server',
    stack.pebble.directoryUrl,
    '--dnsimple-path',
    dnsimplePath,
  ];

  const before = await snapshot(prefix);
  const dry = await cli(prefix, ...seedArgs, '--dry-run', '--json');
  assert.equal(dry.code, 0, dry.stderr);
  assert.equal(report(dry).dryRun, true);
  assert.ok(report(dry).counts.import >= 4);
  assert.deepEqual(await snapshot(prefix), before, '--dry-run writes nothing');

  const first = await cli(prefix, ...seedArgs, '--json');
  assert.equal(first.code, 0, first.stderr);
  const serverId = (JSON.parse((await cli(prefix, 'account', 'show', '--json')).stdout) as { server: string })
    .server;
  assert.deepEqual(actions(report(first)), [
    `import account ${serverId}`,
    'import settings defaultServer',
    `import metadata ${d1}`,
    `import params ${d1}`,
  ]);

  const shown = await cli(prefix, 'account', 'show', '--json');
  assert.equal(shown.code, 0, shown.stderr);
  const view = JSON.parse(shown.stdout) as {
    url: string;
    directoryUrl: string;
    keyType: string;
    default: boolean;
    createdAt: string;
  };
  assert.equal(view.url, account.uri, 'the account certbot registered');
  assert.equal(view.directoryUrl, stack.pebble.directoryUrl);
  assert.equal(view.keyType, 'rsa-2048');
  assert.equal(view.default, true);
  assert.equal(view.createdAt, new Date(String(accountFile('meta').creation_dt)).toISOString());

  const after1 = await kvGet(`${prefix}/certificates/${d1}`);
  assert.deepEqual(after1.data, seedSecret.data, 'the secret consumers read is byte-identical');
  assert.equal(after1.version, seedSecret.version, 'and was not rewritten');
  assert.equal(after1.custom.managed_by, 'certvault');
  assert.equal(after1.custom.data_version, String(seedSecret.version));

  const show = JSON.parse((await cli(prefix, 'show', d1, '--json')).stdout) as {
    domains: string[];
    keyType: string;
    params: Record<string, unknown>;
  };
  assert.deepEqual(show.domains, [d1, `www.${d1}`]);
  assert.equal(show.keyType, 'ecdsa-p256');
  assert.deepEqual(
    { ...show.params, createdAt: 'x' },
    {
      domains: [d1, `www.${d1}`],
      dns: 'bind',
      server: serverId,
      keyType: 'ecdsa-p256',
      reuseKey: false,
      createdAt: 'x',
    },
  );
  const list = JSON.parse((await cli(prefix, 'list', '--json')).stdout) as {
    name: string;
    domains: string[];
  }[];
  assert.deepEqual(
    list.map((c) => [c.name, c.domains]),
    [[d1, [d1, `www.${d1}`]]],
  );
  assert.equal(
    await storeAt(prefix).getDns('dnsimple'),
    null,
    '--dns bind: the DNSimple token is not imported',
  );

  // (c) idempotency
  const settled = await snapshot(prefix);
  const second = await cli(prefix, ...seedArgs, '--json');
  assert.equal(second.code, 0, second.stderr);
  assert.equal(report(second).counts.import, 0, 'nothing new');
  assert.equal(report(second).counts.conflict, 0);
  assert.deepEqual(await snapshot(prefix), settled, 'no version, time or metadata changed');
  const text = await cli(prefix, ...seedArgs);
  assert.match(text.stdout, /nothing new to import; 4 unchanged/);
  assert.equal(pebbleAccounts(), 1);
});

test('seed layout: the imported account issues a new certificate and renews the imported one', async () => {
  const prefix = `${vault.prefix}/seed`;
  const fresh = `${stack.bind.unique()}.example.test`;
  const issued = await cli(prefix, 'issue', '-d', fresh, '--dns', 'bind', '--json');
  assert.equal(issued.code, 0, issued.stderr);
  const old = await kvGet(`${prefix}/certificates/${d1}`);
  const renewed = await cli(prefix, 'renew', '--force', d1, '--json');
  assert.equal(renewed.code, 0, renewed.stderr + renewed.stdout);
  const now = await kvGet(`${prefix}/certificates/${d1}`);
  assert.equal(now.version, old.version + 1, 'renewed in place');
  assert.notEqual(now.data.cert, old.data.cert);
  assert.notEqual(now.data.privkey, old.data.privkey, 'reuseKey false: a new key');
  assert.equal(now.data.fullchain, `${now.data.cert}${now.data.chain}`);
  const show = JSON.parse((await cli(prefix, 'show', d1, '--json')).stdout) as { domains: string[] };
  assert.deepEqual(show.domains, [d1, `www.${d1}`]);
  // Pebble only accepts requests signed by a known account's key under its URL: certbot's, since no other was made.
  assert.equal(pebbleAccounts(), 1, 'no new account on Pebble');
});

// ---- (b) Certbot's directory ------------------------------------------------------------------------

test('certbot directory: accounts, certificates, params and DNS credentials; a second run changes nothing', async () => {
  const prefix = `${vault.prefix}/certbot`;
  const store = storeAt(prefix);
  const first = await cli(prefix, 'import', 'certbot', confDir, '--json');
  assert.equal(first.code, 0, first.stderr);
  const serverId = (await store.getSettings()).defaultServer!;
  const [n1, n2] = [d1, d2].sort(); // renewal confs are read in name order
  assert.deepEqual(actions(report(first)), [
    `import account ${serverId}`,
    'import settings defaultServer',
    `import certificate ${n1}`,
    'import dns rfc2136',
    `import params ${n1}`,
    `import certificate ${n2}`,
    `import params ${n2}`,
  ]);

  const acct = (await store.getAccount(serverId))!.value;
  assert.equal(acct.url, account.uri);
  assert.equal(acct.directoryUrl, stack.pebble.directoryUrl);

  for (const name of [d1, d2]) {
    const stored = await kvGet(`${prefix}/certificates/${name}`);
    assert.equal(stored.version, 1, 'one write (check-and-set 0)');
    assert.deepEqual(stored.data, {
      cert: live(name, 'cert'),
      chain: live(name, 'chain'),
      fullchain: live(name, 'fullchain'),
      privkey: live(name, 'privkey'),
    });
    assert.equal(stored.custom.managed_by, 'certvault');
  }
  const p1 = (await store.getParams(d1))!.value;
  assert.deepEqual(
    { ...p1, createdAt: 'x' },
    {
      domains: [d1, `www.${d1}`],
      dns: 'rfc2136',
      server: serverId,
      keyType: 'ecdsa-p256',
      reuseKey: false,
      createdAt: 'x',
    },
  );
  const p2 = (await store.getParams(d2))!.value;
  assert.deepEqual(new Set(p2.domains), new Set([`*.${d2}`, d2]));
  assert.equal(p2.keyType, 'rsa-2048');
  assert.equal(p2.reuseKey, true);
  const dns = (await store.getDns('rfc2136'))!.value;
  assert.equal(dns.provider, 'rfc2136');
  assert.deepEqual(dns.settings, {
    server: stack.dnsServer,
    'tsig-key': stack.bind.keys.sha256.name,
    'tsig-secret': stack.bind.keys.sha256.secret,
    'tsig-algorithm': 'hmac-sha256',
  });

  // (c) idempotency
  const settled = await snapshot(prefix);
  const second = await cli(prefix, 'import', 'certbot', confDir, '--json');
  assert.equal(second.code, 0, second.stderr);
  assert.deepEqual(report(second).counts, { import: 0, unchanged: 9, conflict: 0, skip: 0 });
  assert.deepEqual(await snapshot(prefix), settled);
});

test('certbot directory: imported account and DNS credentials issue, and renew keeps a reused key', async () => {
  const prefix = `${vault.prefix}/certbot`;
  const fresh = `${stack.bind.unique()}.example.test`;
  const issued = await cli(prefix, 'issue', '-d', fresh, '--dns', 'rfc2136');
  assert.equal(issued.code, 0, issued.stderr);
  const old = await kvGet(`${prefix}/certificates/${d2}`);
  const renewed = await cli(prefix, 'renew', '--force', d2, '--json');
  assert.equal(renewed.code, 0, renewed.stderr + renewed.stdout);
  const now = await kvGet(`${prefix}/certificates/${d2}`);
  assert.equal(now.version, old.version + 1);
  assert.notEqual(now.data.cert, old.data.cert);
  assert.equal(now.data.privkey, old.data.privkey, 'reuse_key = True carried over');
  assert.equal(pebbleAccounts(), 1, 'still only the account certbot registered');
});
