import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StateStore } from '../src/store/store.js';
import { certificateMatchesKey, certificateFacts } from '../src/pki/cert.js';
import { runCli, type CliResult } from './support/cli.js';
import { startStack, type Stack } from './support/stack.js';
import { testVault, type TestVault } from './support/vault.js';
import { openWorld } from './support/world.js';

let stack: Stack;
let vault: TestVault;
let env: Record<string, string>;
let store: StateStore;

before(async () => {
  // Every request of this file runs against a CA that rejects 30% of good nonces.
  stack = await startStack({ nonceReject: 30, blockedDomains: ['blocked.example.test'] });
  vault = await testVault();
  ({ env, store } = await openWorld(stack, vault, 'le'));
});

after(async () => {
  await vault?.close();
  await stack?.stop();
});

const cli = (...args: string[]): Promise<CliResult> => runCli(args, env);
const fresh = (): string => `${stack.bind.unique()}.example.test`;

async function assertStoredAndValid(name: string, domains: string[]): Promise<void> {
  const cert = await store.getCertificate(name);
  assert.ok(cert, `certificate ${name} stored`);
  assert.deepEqual([...cert.domains].sort(), [...domains].sort());
  assert.ok(certificateMatchesKey(cert.material.cert, cert.material.privkey), 'privkey matches cert');
  assert.equal(cert.material.fullchain, cert.material.cert + cert.material.chain, 'fullchain = cert + chain');
  const dir = stack.dir;
  writeFileSync(join(dir, `${name}.root.pem`), await stack.pebble.rootPem(0));
  writeFileSync(join(dir, `${name}.chain.pem`), cert.material.chain);
  writeFileSync(join(dir, `${name}.cert.pem`), cert.material.cert);
  const out = execFileSync(
    'openssl',
    [
      'verify',
      '-CAfile',
      join(dir, `${name}.root.pem`),
      '-untrusted',
      join(dir, `${name}.chain.pem`),
      join(dir, `${name}.cert.pem`),
    ],
    { encoding: 'utf8' },
  );
  assert.match(out, /: OK/);
  for (const d of domains) {
    assert.deepEqual(
      await stack.bind.txt(`_acme-challenge.${d.replace(/^\*\./, '')}`),
      [],
      `challenge records for ${d} removed`,
    );
  }
  assert.equal(await store.getJournal(name), null, 'no journal left');
  const params = await store.getParams(name);
  assert.deepEqual(params?.value.domains, domains);
  assert.equal(params?.value.dns, 'bind');
}

test('issues one name into Vault', async () => {
  const d = fresh();
  const res = await cli('issue', '-d', d, '--dns', 'bind', '--json');
  assert.equal(res.code, 0, res.stderr);
  const out = JSON.parse(res.stdout) as { name: string; version: number };
  assert.equal(out.name, d);
  await assertStoredAndValid(d, [d]);
});

test('--name picks the store name; global flags do what their environment variables do', async () => {
  const d = fresh();
  const { CERTVAULT_VAULT_MOUNT, CERTVAULT_VAULT_PREFIX, VAULT_ADDR, ...rest } = env;
  const res = await runCli(
    [
      '--store',
      'vault',
      '--vault-addr',
      VAULT_ADDR!,
      '--vault-mount',
      CERTVAULT_VAULT_MOUNT!,
      '--vault-prefix',
      CERTVAULT_VAULT_PREFIX!,
      '--log-format',
      'json',
      '--log-level',
      'info',
      'issue',
      '-d',
      d,
      '--dns',
      'bind',
      '--name',
      'my-site',
      '--json',
    ],
    rest,
  );
  assert.equal(res.code, 0, res.stderr);
  assert.equal((JSON.parse(res.stdout) as { name: string }).name, 'my-site');
  await assertStoredAndValid('my-site', [d]);
  assert.equal(await store.getCertificate(d), null, 'nothing under the domain name');
  const logLines = res.stderr.trim().split('\n');
  assert.ok(logLines.length > 0 && logLines.every((l) => typeof JSON.parse(l).msg === 'string'), res.stderr);
  // (The test mount is the default "secret", so show that the flag is read.)
  const other = await runCli(['--vault-addr', VAULT_ADDR!, '--vault-mount', 'elsewhere', 'list'], rest);
  assert.match(other.stderr, /no mount "elsewhere"/);
});

test('issues a SAN list and stores it under the first name', async () => {
  const base = fresh();
  const names = [`www.${base}`, base, `api.${base}`];
  const res = await cli(
    'issue',
    ...names.flatMap((n) => ['-d', n]),
    '--dns',
    'bind',
    '--key-type',
    'rsa-2048',
  );
  assert.equal(res.code, 0, res.stderr);
  await assertStoredAndValid(`www.${base}`, names);
  assert.equal((await store.getCertificateSummary(`www.${base}`))?.keyType, 'rsa-2048');
});

test('issues *.d + d in one certificate, stored as d (two TXT values at one name)', async () => {
  const d = fresh();
  const res = await cli('issue', '-d', `*.${d}`, '-d', d, '--dns', 'bind');
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, new RegExp(`issued ${d.replace(/\./g, '\\.')} `));
  await assertStoredAndValid(d, [`*.${d}`, d]);
  const again = await cli('issue', '-d', d, '--dns', 'bind');
  assert.equal(again.code, 2, 'an existing name needs --force');
  assert.match(again.stderr, /already exists/);
});

test('follows a CNAME-delegated _acme-challenge name', async () => {
  const d = stack.bind.cnameInZone.name.replace(/^_acme-challenge\./, '');
  const res = await cli('issue', '-d', d, '--dns', 'bind', '--log-level', 'info');
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stderr, /following CNAME/);
  assert.deepEqual(await stack.bind.txt(stack.bind.cnameInZone.target), []);
  assert.ok(certificateFacts((await store.getCertificate(d))!.material.cert).domains.includes(d));
});

test('a wrong TSIG secret fails cleanly and stores nothing', async () => {
  const wrong = Buffer.alloc(32, 7).toString('base64');
  const set = await runCli(
    [
      'dns',
      'set',
      'wrong',
      '--provider',
      'rfc2136',
      `server=${stack.dnsServer}`,
      `tsig-key=${stack.bind.keys.sha256.name}`,
      'tsig-secret=@env:WRONG',
    ],
    { ...env, WRONG: wrong },
  );
  assert.equal(set.code, 0, set.stderr);
  const d = fresh();
  const res = await cli('issue', '-d', d, '--dns', 'wrong');
  assert.equal(res.code, 1);
  const lines = res.stderr
    .trim()
    .split('\n')
    .filter((l) => !l.startsWith('certvault: no Vault'));
  assert.equal(lines.length, 1, res.stderr);
  assert.match(lines[0]!, new RegExp(stack.bind.keys.sha256.name));
  assert.ok(!res.stderr.includes(wrong));
  assert.equal(await store.getCertificateSummary(d), null);
  assert.equal(await store.getJournal(d), null);
  assert.equal(await store.getParams(d), null);
});

test('a CA refusal is one line with the problem type, exit 1, nothing stored', async () => {
  const res = await cli('issue', '-d', 'blocked.example.test', '--dns', 'bind');
  assert.equal(res.code, 1);
  assert.match(res.stderr, /rejectedIdentifier/);
  assert.equal(await store.getCertificateSummary('blocked.example.test'), null);
});

test('bad input exits 2 before anything is written', async () => {
  const cases: [string[], RegExp][] = [
    [['-d', 'not a name'], /invalid name "not a name"/],
    [['-d', 'a.example.test', '-d', 'A.example.test'], /given twice/],
    [['-d', 'www.*.example.test'], /wildcard must be the whole leftmost label/],
    [['-d', '*www.example.test'], /wildcard must be the whole leftmost label/],
    [Array.from({ length: 101 }, (_, i) => ['-d', `n${i}.example.test`]).flat(), /at most 100/],
    [['-d', 'x.example.test', '--dns', 'nope'], /no DNS credentials named "nope"/],
    [['-d', 'x.example.test', '--key-type', 'dsa'], /Allowed choices/],
    [['-d', 'x.example.test', '--server', 'nowhere-ca'], /unknown ACME server "nowhere-ca"/],
  ];
  for (const [args, message] of cases) {
    const res = await cli('issue', ...(args.includes('--dns') ? [] : ['--dns', 'bind']), ...args);
    assert.equal(res.code, 2, `${args.join(' ')}: ${res.stderr}`);
    assert.match(res.stderr, message);
  }
  const noAccount = await runCli(['issue', '-d', 'x.example.test', '--dns', 'bind'], {
    ...env,
    CERTVAULT_VAULT_PREFIX: `${vault.prefix}/empty`,
  });
  assert.equal(noAccount.code, 2);
  assert.match(noAccount.stderr, /no DNS credentials|no ACME account/);
  assert.deepEqual(
    await store.listCertificateNames().then((n) => n.filter((x) => x.startsWith('x.') || x.startsWith('n'))),
    [],
  );
});

test('Unicode names are converted to punycode', async () => {
  const label = stack.bind.unique();
  const res = await cli('issue', '-d', `bücher-${label}.example.test`, '--dns', 'bind', '--json');
  assert.equal(res.code, 0, res.stderr);
  const out = JSON.parse(res.stdout) as { domains: string[] };
  assert.match(out.domains[0]!, /^xn--/);
});

test('revokes a stored certificate', async () => {
  const d = fresh();
  assert.equal((await cli('issue', '-d', d, '--dns', 'bind')).code, 0);
  const res = await cli('revoke', d, '--reason', 'superseded');
  assert.equal(res.code, 0, res.stderr);
  const again = await cli('revoke', d);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /alreadyRevoked/);
});
