// `import seed` and `import certbot` against the Vault emulator with made-up inputs (no CA needed):
// layouts and settings the end-to-end test cannot produce, conflicts and --force, KV v1, the local
// store, and bad inputs, which must fail with one line, exit 2, and nothing written.
import 'reflect-metadata';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, webcrypto } from 'node:crypto';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { createDnsProvider } from '../src/dns/provider.js';
import { checkCertificate, orderedDomains, type ImportReport } from '../src/core/import-common.js';
import { VaultClient } from '../src/vault/client.js';
import { kvFor } from '../src/vault/kv.js';
import { StateStore } from '../src/store/store.js';
import { makeCert, type TestCert } from './support/certs.js';
import { runCli, type CliResult } from './support/cli.js';
import { startDnsimpleDouble, type DnsimpleDouble } from './support/dnsimple-double.js';
import { testVault, type TestVault } from './support/vault.js';

let vault: TestVault;
let api: DnsimpleDouble;
const tmp = mkdtempSync(join(tmpdir(), 'certvault-import-'));
const LE_ACCOUNT = 'https://acme-v02.api.letsencrypt.org/acme/acct/12345';
const TSIG_SECRET = Buffer.alloc(32, 9).toString('base64');
const secrets = [TSIG_SECRET];

before(async () => {
  vault = await testVault();
  api = await startDnsimpleDouble({ zones: ['example.com'] });
  secrets.push(api.token);
});

after(async () => {
  await api?.close();
  await vault?.close();
});

const envFor = (prefix: string, mount = vault.mount): Record<string, string> => ({
  VAULT_ADDR: vault.addr,
  VAULT_TOKEN: vault.token,
  CERTVAULT_VAULT_MOUNT: mount,
  CERTVAULT_VAULT_PREFIX: prefix,
  ...(vault.namespace ? { VAULT_NAMESPACE: vault.namespace } : {}),
});

async function cli(prefix: string, ...args: string[]): Promise<CliResult> {
  const res = await runCli(args, envFor(prefix));
  assertNoSecret(res);
  return res;
}

function assertNoSecret(res: CliResult): void {
  for (const s of secrets)
    assert.ok(!res.stdout.includes(s) && !res.stderr.includes(s), 'a secret leaked into the output');
}

function storeAt(prefix: string, mount = vault.mount, version: 1 | 2 = 2): StateStore {
  const client = new VaultClient({ addr: vault.addr, token: () => vault.token, namespace: vault.namespace });
  return new StateStore(kvFor(client, mount, version), prefix, 'test');
}

async function vaultHttp(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const headers: Record<string, string> = { 'X-Vault-Token': vault.token };
  if (vault.namespace) headers['X-Vault-Namespace'] = vault.namespace;
  const res = await fetch(`${vault.addr}/v1/${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as unknown) : null };
}

/** `vault kv put` as the seed's scripts run it (KV v2, or KV v1 when `mount` is one). */
async function kvPut(
  path: string,
  data: Record<string, unknown>,
  mount = vault.mount,
  version: 1 | 2 = 2,
): Promise<void> {
  const res = await vaultHttp(
    'POST',
    version === 2 ? `${mount}/data/${path}` : `${mount}/${path}`,
    version === 2 ? { data } : data,
  );
  assert.ok(res.status === 200 || res.status === 204, `kv put ${path}: ${res.status}`);
}

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

const report = (res: CliResult): ImportReport => JSON.parse(res.stdout) as ImportReport;
const rsaJwk = (): Record<string, unknown> =>
  generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }) as Record<
    string,
    unknown
  >;

interface SeedInput {
  uri?: string;
  jwk?: Record<string, unknown>;
  certs?: Record<string, TestCert>;
  /** Stored at `<vault prefix>/<prefix>-dnsimple` when given. */
  token?: string;
  mount?: string;
  version?: 1 | 2;
}

/** Older Certbot's regr.json (with body, new_authzr_uri, terms_of_service) and meta.json, as the seed stores them. */
async function writeSeed(prefix: string, input: SeedInput = {}): Promise<void> {
  const put = (p: string, d: Record<string, unknown>) => kvPut(p, d, input.mount, input.version);
  await put(`${prefix}/account/extra_details`, { account_id: '3b1f0c9a' });
  await put(`${prefix}/account/meta`, {
    creation_dt: '2019-06-01T10:00:00Z',
    creation_host: 'certbot-vault',
    register_to_eff: null,
  });
  await put(`${prefix}/account/private_key`, input.jwk ?? rsaJwk());
  await put(`${prefix}/account/regr`, {
    body: {
      contact: ['mailto:ops@example.com'],
      status: 'valid',
      agreement: 'https://letsencrypt.org/documents/LE-SA-v1.2-November-15-2017.pdf',
    },
    uri: input.uri ?? LE_ACCOUNT,
    new_authzr_uri: 'https://acme-v02.api.letsencrypt.org/acme/new-authz',
    terms_of_service: 'https://letsencrypt.org/documents/LE-SA-v1.2-November-15-2017.pdf',
  });
  for (const [name, c] of Object.entries(input.certs ?? {}))
    await put(`${prefix}/certificates/${name}`, { cert: c.cert, chain: c.chain, privkey: c.privkey });
  if (input.token) await put(`${prefix}-dnsimple`, { token: input.token });
}

// ---- import seed ------------------------------------------------------------------------------------

test("seed with the DNSimple token: Let's Encrypt found by host, token stored, usable without an account id", async () => {
  const prefix = `${vault.prefix}/s1`;
  const wildcard = await makeCert(['*.example.com', 'example.com']);
  const shop = await makeCert(['shop.example.com', 'www.shop.example.com']);
  await writeSeed(prefix, { certs: { 'example.com': wildcard, 'shop.example.com': shop }, token: api.token });

  const res = await cli(prefix, 'import', 'seed', '--dnsimple-path', `${prefix}-dnsimple`, '--json');
  assert.equal(res.code, 0, res.stderr);
  assert.deepEqual(
    report(res).steps.map((s) => `${s.action} ${s.kind} ${s.name}`),
    [
      'import account letsencrypt',
      'import settings defaultServer',
      'import dns dnsimple',
      'import metadata example.com',
      'import params example.com',
      'import metadata shop.example.com',
      'import params shop.example.com',
    ],
  );
  const store = storeAt(prefix);
  const acct = (await store.getAccount('letsencrypt'))!.value;
  assert.equal(acct.url, LE_ACCOUNT);
  assert.equal(acct.directoryUrl, 'https://acme-v02.api.letsencrypt.org/directory');
  assert.deepEqual(acct.contact, ['mailto:ops@example.com']);
  assert.equal(acct.createdAt, '2019-06-01T10:00:00.000Z');
  assert.match(acct.key, /^-----BEGIN PRIVATE KEY-----/);
  assert.equal((await store.getSettings()).defaultServer, 'letsencrypt');
  const dns = (await store.getDns('dnsimple'))!.value;
  assert.deepEqual([dns.provider, dns.settings], ['dnsimple', { token: api.token }]);
  const params = (await store.getParams('example.com'))!.value;
  assert.deepEqual(
    [params.domains, params.dns, params.server, params.keyType, params.reuseKey],
    [['*.example.com', 'example.com'], 'dnsimple', 'letsencrypt', 'ecdsa-p256', false],
  );
  assert.equal((await store.getCertificateSummary('shop.example.com'))?.source, 'metadata');

  // The seed never knew the DNSimple account id; the provider asks whoami once.
  const provider = createDnsProvider('dnsimple', { ...dns.settings, 'base-url': api.baseUrl });
  await provider.present('_acme-challenge.example.com', ['v1']);
  assert.deepEqual(api.txt('example.com', '_acme-challenge'), ['v1']);
  await provider.cleanup('_acme-challenge.example.com', ['v1']);
  assert.deepEqual(api.txt('example.com', '_acme-challenge'), []);
  assert.equal(api.requests.filter((r) => r.path === '/v2/whoami').length, 1);
  assert.deepEqual(api.unexpected, []);

  const text = await cli(prefix, 'import', 'seed', '--dnsimple-path', `${prefix}-dnsimple`);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /nothing new to import; 7 unchanged, 0 skipped, 0 conflicts/);
});

test('differing records are conflicts (exit 1, left alone) until --force', async () => {
  const prefix = `${vault.prefix}/s1`; // imported by the previous test
  const store = storeAt(prefix);
  const original = (await store.getParams('example.com'))!;
  await store.putParams('example.com', { ...original.value, dns: 'elsewhere' });
  const changed = await store.getParams('example.com');
  const res = await cli(prefix, 'import', 'seed', '--dnsimple-path', `${prefix}-dnsimple`);
  assert.equal(res.code, 1);
  assert.match(res.stdout, /CONFLICT\s+params\s+example\.com .*pass --force/);
  assert.deepEqual(res.stderr.trim().split('\n').length, 1);
  assert.match(res.stderr, /1 record\(s\) in the store differ .*--force/);
  assert.deepEqual(await store.getParams('example.com'), changed, 'left alone');
  const forced = await cli(
    prefix,
    'import',
    'seed',
    '--dnsimple-path',
    `${prefix}-dnsimple`,
    '--force',
    '--json',
  );
  assert.equal(forced.code, 0, forced.stderr);
  assert.deepEqual(report(forced).counts, { import: 1, unchanged: 6, conflict: 0, skip: 0 });
  assert.equal((await store.getParams('example.com'))!.value.dns, 'dnsimple');
});

test('certificates certvault already issued in the same prefix are left alone, even with --force', async () => {
  const prefix = `${vault.prefix}/s1`;
  const store = storeAt(prefix);
  await store.putCertificate('mine.example.com', await makeCert(['mine.example.com']), 0);
  const params = {
    domains: ['mine.example.com'],
    dns: 'corp',
    server: 'letsencrypt',
    keyType: 'ecdsa-p384' as const,
    reuseKey: true,
    createdAt: '2026-01-01T00:00:00.000Z',
  };
  await store.putParams('mine.example.com', params, 0);
  const res = await cli(
    prefix,
    'import',
    'seed',
    '--dnsimple-path',
    `${prefix}-dnsimple`,
    '--force',
    '--json',
  );
  assert.equal(res.code, 0, res.stderr);
  assert.deepEqual(
    report(res)
      .steps.filter((s) => s.name === 'mine.example.com')
      .map((s) => `${s.action} ${s.kind}: ${s.detail}`),
    ['unchanged certificate: issued or renewed by certvault; left alone'],
  );
  assert.equal(report(res).counts.import, 0);
  assert.deepEqual((await store.getParams('mine.example.com'))!.value, params);
});

test("--seed-prefix elsewhere: certificates are copied with a fullchain, the seed's secrets stay as they are", async () => {
  const seedPrefix = `${vault.prefix}/old-seed`;
  const prefix = `${vault.prefix}/s2`;
  const cert = await makeCert(['copy.example.com']);
  await writeSeed(seedPrefix, { certs: { 'copy.example.com': cert }, token: api.token });
  const seedBefore = await snapshot(seedPrefix);
  const args = [
    'import',
    'seed',
    '--seed-prefix',
    seedPrefix,
    '--dnsimple-path',
    `${seedPrefix}-dnsimple`,
    '--json',
  ];
  const res = await cli(prefix, ...args);
  assert.equal(res.code, 0, res.stderr);
  assert.ok(report(res).steps.some((s) => s.kind === 'certificate' && s.action === 'import'));
  const stored = (await storeAt(prefix).getCertificate('copy.example.com'))!;
  assert.deepEqual(stored.material, {
    cert: cert.cert,
    chain: cert.chain,
    fullchain: `${cert.cert.trimEnd()}\n${cert.chain}`,
    privkey: cert.privkey,
  });
  assert.deepEqual(await snapshot(seedPrefix), seedBefore);
  const again = await cli(prefix, ...args);
  assert.equal(report(again).counts.import, 0);
});

test(
  'KV v1: the same import, idempotent, without metadata steps',
  { skip: !!process.env.CERTVAULT_TEST_VAULT_ADDR && !process.env.CERTVAULT_TEST_VAULT_KV1_MOUNT },
  async () => {
    const mount = vault.kv1Mount!;
    const prefix = `${vault.prefix}/v1`;
    await writeSeed(prefix, {
      certs: { 'v1.example.com': await makeCert(['v1.example.com']) },
      token: api.token,
      mount,
      version: 1,
    });
    const args = ['import', 'seed', '--dnsimple-path', `${prefix}-dnsimple`, '--json'];
    const first = await runCli(args, envFor(prefix, mount));
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(report(first).counts, { import: 4, unchanged: 0, conflict: 0, skip: 0 });
    const second = await runCli(args, envFor(prefix, mount));
    assert.deepEqual(report(second).counts, { import: 0, unchanged: 4, conflict: 0, skip: 0 });
    assert.equal((await storeAt(prefix, mount, 1).getParams('v1.example.com'))?.value.dns, 'dnsimple');
  },
);

test('seed: broken certificates are skipped with the reason, the rest imported', async () => {
  const prefix = `${vault.prefix}/s3`;
  const good = await makeCert(['good.example.com']);
  const other = await makeCert(['other.example.com']);
  await writeSeed(prefix, {
    certs: { 'good.example.com': good, 'mismatch.example.com': { ...good, privkey: other.privkey } },
    token: api.token,
  });
  await kvPut(`${prefix}/certificates/nocert.example.com`, { chain: good.chain });
  const res = await cli(prefix, 'import', 'seed', '--dnsimple-path', `${prefix}-dnsimple`, '--json');
  assert.equal(res.code, 0, res.stderr);
  const skipped = report(res)
    .steps.filter((s) => s.action === 'skip')
    .map((s) => [s.name, s.detail]);
  const at = (n: string) => `${vault.mount}/${prefix}/certificates/${n}`;
  assert.deepEqual(skipped, [
    ['mismatch.example.com', `${at('mismatch.example.com')}: privkey does not match cert`],
    ['nocert.example.com', `${at('nocert.example.com')} has no "cert"`],
  ]);
  assert.ok(await storeAt(prefix).getParams('good.example.com'));
});

test('domains put the subject CN first; a key that does not match is refused', async () => {
  const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ]);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '0a',
    name: 'CN=b.example.com',
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [
      new x509.SubjectAlternativeNameExtension(
        ['a.example.com', 'b.example.com', 'c.example.com'].map((value) => ({ type: 'dns' as const, value })),
      ),
    ],
  });
  assert.deepEqual(orderedDomains(cert.toString('pem')), ['b.example.com', 'a.example.com', 'c.example.com']);
  const other = await makeCert(['x.example.com']);
  assert.deepEqual(checkCertificate({ cert: cert.toString('pem'), privkey: other.privkey }), {
    ok: false,
    reason: 'privkey does not match cert',
  });
  assert.deepEqual(checkCertificate({ cert: other.cert, privkey: '' }), { ok: false, reason: 'no privkey' });
});

// ---- import certbot ---------------------------------------------------------------------------------

interface Lineage {
  name: string;
  cert?: TestCert;
  conf: Record<string, string>;
}

/** A Certbot config dir as Certbot lays it out: accounts/<host>/directory/<id>/, renewal/, archive/ + live/ symlinks. */
function writeCertbotDir(
  lineages: Lineage[],
  accounts = ['acc0001'],
  extra: Record<string, string> = {},
): string {
  const dir = mkdtempSync(join(tmp, 'le-'));
  for (const id of accounts) {
    const a = join(dir, 'accounts', 'acme-v02.api.letsencrypt.org', 'directory', id);
    mkdirSync(a, { recursive: true });
    writeFileSync(
      join(a, 'meta.json'),
      JSON.stringify({ creation_dt: '2021-02-03T04:05:06Z', creation_host: 'web1' }),
    );
    writeFileSync(join(a, 'private_key.json'), JSON.stringify(rsaJwk()));
    writeFileSync(
      join(a, 'regr.json'),
      JSON.stringify({ body: {}, uri: `https://acme-v02.api.letsencrypt.org/acme/acct/${id}` }),
    );
  }
  mkdirSync(join(dir, 'renewal'));
  for (const l of lineages) {
    const conf = [
      `version = 2.1.0`,
      `archive_dir = /etc/letsencrypt/archive/${l.name}`,
      `cert = /etc/letsencrypt/live/${l.name}/cert.pem`,
      '',
      '# Options used in the renewal process',
      '[renewalparams]',
    ];
    for (const [k, v] of Object.entries({
      account: accounts.at(-1) ?? '',
      server: 'https://acme-v02.api.letsencrypt.org/directory',
      config_dir: '/etc/letsencrypt',
      ...l.conf,
    }))
      conf.push(`${k} = ${v}`);
    conf.push('[[webroot_map]]', 'example.org = /var/www/html');
    writeFileSync(join(dir, 'renewal', `${l.name}.conf`), `${conf.join('\n')}\n`);
    if (!l.cert) continue;
    mkdirSync(join(dir, 'archive', l.name), { recursive: true });
    mkdirSync(join(dir, 'live', l.name), { recursive: true });
    for (const f of ['cert', 'chain', 'fullchain', 'privkey'] as const) {
      writeFileSync(join(dir, 'archive', l.name, `${f}1.pem`), l.cert[f]);
      symlinkSync(`../../archive/${l.name}/${f}1.pem`, join(dir, 'live', l.name, `${f}.pem`));
    }
  }
  for (const [name, text] of Object.entries(extra)) writeFileSync(join(dir, name), text);
  return dir;
}

test('certbot: authenticators, credentials files, key types, preferred chain; several accounts for one server', async () => {
  const prefix = `${vault.prefix}/c1`;
  const a = await makeCert(['a.example.com', 'www.a.example.com']);
  const b = await makeCert(['b.example.com']);
  const c = await makeCert(['c.example.com']);
  const credsRfc = join(tmp, 'rfc-md5.ini');
  writeFileSync(
    credsRfc,
    `dns_rfc2136_server = 192.0.2.53\ndns_rfc2136_name = k1.\ndns_rfc2136_secret = ${TSIG_SECRET}\n`,
  );
  const dir = writeCertbotDir(
    [
      {
        name: 'a.example.com',
        cert: a,
        conf: {
          authenticator: 'dns-dnsimple',
          dns_dnsimple_credentials: '/etc/letsencrypt/dnsimple.ini',
          key_type: 'rsa',
          rsa_key_size: '3072',
          reuse_key: 'True',
          preferred_chain: 'ISRG Root X1',
        },
      },
      {
        name: 'b.example.com',
        cert: b,
        conf: { authenticator: 'dns-rfc2136', dns_rfc2136_credentials: credsRfc },
      },
      { name: 'c.example.com', cert: c, conf: { authenticator: 'webroot' } },
      { name: 'd.example.com', conf: { authenticator: 'dns-dnsimple' } },
    ],
    ['acc0001', 'acc0002'],
    // The seed's /etc/letsencrypt/dnsimple.ini, found inside the directory being imported.
    { 'dnsimple.ini': `dns_dnsimple_token = ${api.token}\n` },
  );
  const res = await cli(prefix, 'import', 'certbot', dir, '--json');
  assert.equal(res.code, 0, res.stderr);
  const steps = report(res).steps.map(
    (s) =>
      `${s.action} ${s.kind} ${s.name}${s.action === 'skip' ? `: ${s.detail.replace(/^[^:]*: /, '')}` : ''}`,
  );
  assert.deepEqual(steps, [
    'skip account letsencrypt: certbot account acc0001, https://acme-v02.api.letsencrypt.org/acme/acct/acc0001: certvault keeps one account per server and imports acc0002',
    'import account letsencrypt',
    'import settings defaultServer',
    'import certificate a.example.com',
    'import dns dnsimple',
    'import params a.example.com',
    'import certificate b.example.com',
    'skip params b.example.com: TSIG algorithm HMAC-MD5 in ' +
      credsRfc +
      ' is not supported (use hmac-sha256, hmac-sha384, hmac-sha512); pass --dns NAME to use stored credentials',
    'import certificate c.example.com',
    'skip params c.example.com: authenticator "webroot" has no certvault equivalent; pass --dns NAME to use stored credentials',
    'skip certificate d.example.com: cannot read live/d.example.com/*.pem (ENOENT)',
  ]);
  const store = storeAt(prefix);
  assert.equal(
    (await store.getAccount('letsencrypt'))!.value.url,
    'https://acme-v02.api.letsencrypt.org/acme/acct/acc0002',
  );
  const pa = (await store.getParams('a.example.com'))!.value;
  assert.deepEqual(
    [pa.domains, pa.dns, pa.server, pa.keyType, pa.reuseKey, pa.preferredChain],
    [['a.example.com', 'www.a.example.com'], 'dnsimple', 'letsencrypt', 'rsa-3072', true, 'ISRG Root X1'],
  );
  assert.deepEqual((await store.getDns('dnsimple'))!.value.settings, { token: api.token });
  assert.equal((await store.getCertificate('c.example.com'))!.material.fullchain, c.fullchain);

  // --dns NAME gives every certificate stored credentials instead.
  const withDns = await cli(prefix, 'import', 'certbot', dir, '--dns', 'dnsimple', '--json');
  assert.equal(withDns.code, 0, withDns.stderr);
  assert.deepEqual(
    report(withDns)
      .steps.filter((s) => s.kind === 'params')
      .map((s) => `${s.action} ${s.name}`),
    ['unchanged a.example.com', 'import b.example.com', 'import c.example.com'],
  );
  const again = await cli(prefix, 'import', 'certbot', dir, '--dns', 'dnsimple', '--json');
  assert.equal(report(again).counts.import, 0);
});

test('certbot: a different certificate under the same name is a conflict; --force replaces it with check-and-set', async () => {
  const prefix = `${vault.prefix}/c2`;
  const store = storeAt(prefix);
  const mine = await makeCert(['e.example.com']);
  await store.putCertificate('e.example.com', await makeCert(['e.example.com']), 0);
  const dir = writeCertbotDir([{ name: 'e.example.com', cert: mine, conf: { authenticator: 'webroot' } }]);
  const res = await cli(prefix, 'import', 'certbot', dir, '--json');
  assert.equal(res.code, 1);
  assert.equal(report(res).counts.conflict, 1);
  assert.notEqual((await store.getCertificate('e.example.com'))!.material.cert, mine.cert);
  const forced = await cli(prefix, 'import', 'certbot', dir, '--force', '--json');
  assert.equal(forced.code, 0, forced.stderr);
  const now = (await store.getCertificate('e.example.com'))!;
  assert.equal(now.material.cert, mine.cert);
  assert.equal(now.version, 2);
});

test('certbot into the local store (no Vault), idempotent', async () => {
  const root = mkdtempSync(join(tmp, 'store-'));
  const dir = writeCertbotDir([
    { name: 'f.example.com', cert: await makeCert(['f.example.com']), conf: { authenticator: 'webroot' } },
  ]);
  const env = { CERTVAULT_STORE: `file:${root}` };
  const first = await runCli(['import', 'certbot', dir, '--dns', 'x', '--json'], env);
  assert.equal(first.code, 2, 'unknown --dns');
  const res = await runCli(['import', 'certbot', dir, '--json'], env);
  assert.equal(res.code, 0, res.stderr);
  assert.equal(report(res).counts.import, 3);
  const again = await runCli(['import', 'certbot', dir], env);
  assert.match(again.stdout, /nothing new to import; 4 unchanged/);
});

// ---- (d) bad inputs ---------------------------------------------------------------------------------

test('bad inputs: one line, exit 2, nothing written', async () => {
  const prefix = `${vault.prefix}/bad`;
  const cert = await makeCert(['bad.example.com']);
  const cases: { name: string; setup?: () => Promise<void>; args: string[]; message: RegExp }[] = [
    {
      name: 'no seed account',
      args: ['import', 'seed'],
      message: new RegExp(`no seed account at ${vault.mount}/${prefix}/account/regr; check --seed-prefix`),
    },
    {
      name: 'unknown CA host without --server',
      setup: () =>
        writeSeed(prefix, {
          uri: 'https://acme.internal.example:8443/acct/9',
          certs: { 'bad.example.com': cert },
          token: api.token,
        }),
      args: ['import', 'seed', '--dnsimple-path', `${prefix}-dnsimple`],
      message:
        /cannot tell which ACME directory the account at acme\.internal\.example:8443 belongs to; pass --server/,
    },
    {
      name: '--server on another host',
      args: ['import', 'seed', '--dnsimple-path', `${prefix}-dnsimple`, '--server', 'letsencrypt'],
      message: /registered at acme\.internal\.example:8443, but --server is on acme-v02/,
    },
    {
      name: 'no token and no --dns',
      args: [
        'import',
        'seed',
        '--server',
        'https://acme.internal.example:8443/dir',
        '--dnsimple-path',
        `${prefix}-missing`,
      ],
      message: /no DNSimple token at .*-missing; pass --dns NAME/,
    },
    {
      name: '--dns unknown, no token',
      args: [
        'import',
        'seed',
        '--server',
        'https://acme.internal.example:8443/dir',
        '--dnsimple-path',
        `${prefix}-missing`,
        '--dns',
        'nope',
      ],
      message: /and no DNS credentials named "nope"/,
    },
    {
      name: 'bad --seed-prefix',
      args: ['import', 'seed', '--seed-prefix', 'a/../b'],
      message: /invalid --seed-prefix "a\/\.\.\/b"/,
    },
    {
      name: 'not a JWK',
      setup: () => kvPut(`${prefix}/account/private_key`, { kty: 'RSA', n: 'AQAB' }),
      args: [
        'import',
        'seed',
        '--server',
        'https://acme.internal.example:8443/dir',
        '--dnsimple-path',
        `${prefix}-dnsimple`,
      ],
      message: /account\/private_key is not a usable private JWK/,
    },
    {
      name: 'missing Certbot directory',
      args: ['import', 'certbot', join(tmp, 'nope')],
      message: /cannot read the Certbot directory .*nope \(ENOENT\)/,
    },
    {
      name: 'a file, not a directory',
      setup: async () => writeFileSync(join(tmp, 'file'), 'x'),
      args: ['import', 'certbot', join(tmp, 'file')],
      message: /\(ENOTDIR\)/,
    },
    ...(process.getuid?.() === 0
      ? [] // root reads everything: the permission case only runs unprivileged
      : [
          {
            name: 'unreadable directory',
            setup: async () => {
              mkdirSync(join(tmp, 'locked'), { mode: 0 });
            },
            args: ['import', 'certbot', join(tmp, 'locked')],
            message: /\(EACCES\)/,
          },
        ]),
    {
      name: 'no accounts',
      args: ['import', 'certbot', writeCertbotDir([], [])],
      message: /no Certbot account under .*\/accounts/,
    },
    {
      name: 'unknown --dns',
      args: ['import', 'certbot', writeCertbotDir([]), '--dns', 'nope'],
      message: /no DNS credentials named "nope"/,
    },
  ];
  for (const c of cases) {
    await c.setup?.();
    const before = await snapshot(prefix);
    const res = await cli(prefix, ...c.args);
    assert.equal(res.code, 2, `${c.name}: ${res.stderr}`);
    assert.equal(res.stdout, '', c.name);
    assert.equal(res.stderr.trim().split('\n').length, 1, `${c.name}: one line`);
    assert.match(res.stderr, c.message, c.name);
    assert.deepEqual(await snapshot(prefix), before, `${c.name}: nothing written`);
    assert.deepEqual(
      Object.keys(before).filter((k) => !k.includes('/account/') && !k.includes('/certificates/')),
      [],
      `${c.name}: only the seed's own secrets`,
    );
  }
});
