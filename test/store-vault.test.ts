import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { VaultClient } from '../src/vault/client.js';
import { kvFor } from '../src/vault/kv.js';
import { StateStore } from '../src/store/store.js';
import { indexShard } from '../src/store/summary-index.js';
import { inventory } from '../src/core/inventory.js';
import { makeCert } from './support/certs.js';
import { runCli } from './support/cli.js';
import { testVault, type TestVault } from './support/vault.js';

let v: TestVault;
before(async () => {
  v = await testVault();
});
after(() => v.close());

const cliEnv = (prefix: string) => ({
  VAULT_ADDR: v.addr,
  VAULT_TOKEN: v.token,
  CERTVAULT_VAULT_MOUNT: v.mount,
  CERTVAULT_VAULT_PREFIX: prefix,
  ...(v.namespace ? { VAULT_NAMESPACE: v.namespace } : {}),
});

/** Writes a certificate the way the seed's `vault kv put .../certificates/<domain> cert=@ chain=@ privkey=@` does. */
async function seedPut(
  prefix: string,
  domain: string,
  cert: { cert: string; chain: string; privkey: string },
) {
  const res = await fetch(`${v.addr}/v1/${v.mount}/data/${prefix}/certificates/${domain}`, {
    method: 'POST',
    headers: { 'X-Vault-Token': v.token, ...(v.namespace ? { 'X-Vault-Namespace': v.namespace } : {}) },
    body: JSON.stringify({ data: { cert: cert.cert, chain: cert.chain, privkey: cert.privkey } }),
  });
  assert.equal(res.status, 200);
}

test("a Vault filled by the seed's scripts is shown correctly by list and show", async () => {
  const prefix = `${v.prefix}/seed`;
  const wild = await makeCert(['*.shop.example.com', 'shop.example.com'], {
    notAfter: new Date(Date.now() + 40 * 86_400_000),
  });
  const plain = await makeCert(['api.example.com'], { notAfter: new Date(Date.now() + 10 * 86_400_000) });
  await seedPut(prefix, 'shop.example.com', wild);
  await seedPut(prefix, 'api.example.com', plain);

  const list = await runCli(['list', '--json'], cliEnv(prefix));
  assert.equal(list.code, 0, list.stderr);
  const rows = JSON.parse(list.stdout) as { name: string; domains: string[]; daysLeft: number }[];
  assert.deepEqual(
    rows.map((r) => r.name),
    ['api.example.com', 'shop.example.com'],
  );
  assert.deepEqual(rows[1]?.domains, ['*.shop.example.com', 'shop.example.com']);
  assert.ok(rows[0]!.daysLeft >= 9 && rows[0]!.daysLeft <= 10);

  const table = await runCli(['list'], cliEnv(prefix));
  assert.match(table.stdout, /NAME\s+DOMAINS\s+NOT AFTER\s+DAYS LEFT/);
  assert.match(table.stdout, /shop\.example\.com\s+\*\.shop\.example\.com,shop\.example\.com/);

  const show = await runCli(['show', 'shop.example.com', '--json', '--pem'], cliEnv(prefix));
  assert.equal(show.code, 0, show.stderr);
  const shown = JSON.parse(show.stdout) as { fullchain: string; params: unknown; serial: string };
  assert.equal(shown.fullchain.replace(/\s+/g, ''), (wild.cert + wild.chain).replace(/\s+/g, ''));
  assert.equal(shown.params, null);
  assert.ok(!show.stdout.includes('PRIVATE KEY'));
});

test('listing reads the summary index, metadata only for names it lacks, never a key (1,000 certificates)', async (t) => {
  const c = new VaultClient({ addr: v.addr, token: () => v.token, namespace: v.namespace });
  const prefix = `${v.prefix}/many`;
  const kv = kvFor(c, v.mount, 2);
  const store = new StateStore(kv, prefix, 'test');
  const cert = await makeCert(['bulk.example.com']);
  const names = Array.from({ length: 1000 }, (_, i) => `n${String(i).padStart(4, '0')}.example.com`);
  // Written as putCertificate writes them, with the facts parsed once rather than 1,000 times.
  await store.putCertificate(names[0]!, cert, 0);
  const meta = (await kv.readMetadata(`${prefix}/certificates/${names[0]}`))!.customMetadata;
  for (let i = 1; i < names.length; i += 50) {
    await Promise.all(
      names.slice(i, i + 50).map(async (n) => {
        await kv.write(`${prefix}/certificates/${n}`, { ...cert }, { cas: 0 });
        await kv.writeCustomMetadata(`${prefix}/certificates/${n}`, meta);
      }),
    );
  }
  const shards = new Set(names.map(indexShard)).size;
  const listed = async () => {
    v.emulator?.resetLog();
    const before = c.requestCount;
    const all = await inventory(store);
    assert.deepEqual(
      all.map((s) => s.name),
      names,
    );
    assert.ok(all.every((s) => s.source === 'metadata' && s.domains[0] === 'bulk.example.com'));
    if (v.emulator)
      assert.ok(
        v.emulator.requests.every((r) => !r.path.includes('/certificates/') || r.path.includes('/metadata/')),
        'no certificate data/ read during listing',
      );
    return c.requestCount - before;
  };
  // Written behind certvault's back, so absent from the summary index except the first.
  assert.equal(await listed(), 1 + shards + 999, 'one LIST, the index shards, one metadata read per other');
  await Promise.all(
    names.slice(1).map(async (n) => store.repairIndex(n, (await store.getCertificateSummary(n))!, null)),
  );
  assert.equal(await listed(), 1 + shards, 'one LIST and the index shards: no read per certificate');
  assert.ok(shards <= 256);
  if (!v.emulator) t.diagnostic('real Vault: request paths not inspected');
});

test('certificate and key are written in one check-and-set write; a stale writer loses', async () => {
  const c = new VaultClient({ addr: v.addr, token: () => v.token, namespace: v.namespace });
  const store = new StateStore(kvFor(c, v.mount, 2), `${v.prefix}/cas`, 'test');
  const a = await makeCert(['cas.example.com']);
  const b = await makeCert(['cas.example.com']);
  const v1 = await store.putCertificate('cas.example.com', a, 0);
  await assert.rejects(store.putCertificate('cas.example.com', b, 0), /check-and-set conflict/);
  const got = await store.getCertificate('cas.example.com');
  assert.equal(got?.material.privkey, a.privkey);
  assert.equal(got?.version, v1);
});

test('stale metadata (crash between the two writes) is not trusted', async () => {
  const c = new VaultClient({ addr: v.addr, token: () => v.token, namespace: v.namespace });
  const kv = kvFor(c, v.mount, 2);
  const store = new StateStore(kv, `${v.prefix}/stale`, 'test');
  const old = await makeCert(['stale.example.com'], { notAfter: new Date(Date.now() + 5 * 86_400_000) });
  const fresh = await makeCert(['stale.example.com'], { notAfter: new Date(Date.now() + 80 * 86_400_000) });
  await store.putCertificate('stale.example.com', old, 0);
  // A new version written without its metadata update:
  await kv.write(`${v.prefix}/stale/certificates/stale.example.com`, { ...fresh }, { cas: 1 });
  const s = await store.getCertificateSummary('stale.example.com');
  assert.equal(s?.source, 'pem');
  assert.equal(
    s?.notAfter.getTime(),
    new Date(
      fresh.cert ? (await import('../src/pki/cert.js')).certificateFacts(fresh.cert).notAfter : 0,
    ).getTime(),
  );
});

test('CLI errors: unreachable Vault and a denied token exit 1 with one line, usage errors exit 2', async (t) => {
  const down = await runCli(['list'], { VAULT_ADDR: 'http://127.0.0.1:1', VAULT_TOKEN: 'hvs.x' });
  assert.equal(down.code, 1);
  assert.equal(down.stderr.trim().split('\n').length, 1);
  assert.match(down.stderr, /cannot reach Vault at http:\/\/127\.0\.0\.1:1/);

  const bad = await runCli(['list', '--store', 'nowhere'], {});
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /invalid --store "nowhere"; use "vault" or "file:PATH"/);

  if (!v.emulator) return t.skip('denied token needs the emulator');
  const token = v.emulator.createToken({ policies: ['default'] });
  const denied = await runCli(['list'], { ...cliEnv(`${v.prefix}/denied`), VAULT_TOKEN: token });
  assert.equal(denied.code, 1);
  assert.match(denied.stderr, /Vault denied GET .*: no mount "[^"]+", or the token may not use it/);
  assert.ok(!denied.stderr.includes(token));
});
