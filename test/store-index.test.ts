// The summary index (src/store/summary-index.ts): kept in step with the store's writes, never trusted
// while a certificate write is unsettled, safe with concurrent writers, and a pure cache: listing
// through it gives exactly what reading every certificate gives.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { inventory } from '../src/core/inventory.js';
import { StateStore } from '../src/store/store.js';
import {
  PENDING_STALE_MS,
  RECHECK_MS,
  indexShard,
  markPending,
  withState,
} from '../src/store/summary-index.js';
import { VaultClient } from '../src/vault/client.js';
import { kvFor } from '../src/vault/kv.js';
import { makeCert } from './support/certs.js';
import { runCli } from './support/cli.js';
import { deletePolicy, tokenWith, writePolicy } from './support/identities.js';
import { testVault, type TestVault } from './support/vault.js';

let v: TestVault;
before(async () => {
  v = await testVault();
});
after(async () => {
  await v.close();
});

function storeAt(prefix: string, token = v.token) {
  const client = new VaultClient({ addr: v.addr, token: () => token, namespace: v.namespace });
  const kv = kvFor(client, v.mount, 2);
  return { client, kv, store: new StateStore(kv, `${v.prefix}/${prefix}`, 'test') };
}

/** `count` names that all hash to one index shard, so their writers contend for one record. */
function sameShard(count: number, tag: string): string[] {
  const out: string[] = [];
  const shard = indexShard(`0.${tag}.example.com`);
  for (let i = 0; out.length < count; i++) {
    const name = `${i}.${tag}.example.com`;
    if (indexShard(name) === shard) out.push(name);
  }
  return out;
}

test('listing through the index equals reading every certificate, for every kind of certificate', async () => {
  const { kv, store } = storeAt('equal');
  const a = await makeCert(['a.example.com', 'www.a.example.com']);
  await store.putCertificate('a.example.com', a, 0);
  await store.putState('a.example.com', {
    failures: 2,
    nextAttemptAfter: new Date(Date.now() + 3600_000).toISOString(),
    lastProblem: { type: 'rateLimited', detail: 'too many', at: new Date().toISOString() },
  });
  await store.setRenewalStatus('a.example.com', {
    failures: 2,
    problem: 'rateLimited',
    retryAfter: (await store.getState('a.example.com'))!.value.nextAttemptAfter!,
  });
  // Renewed: a second version.
  await store.putCertificate('b.example.com', await makeCert(['b.example.com']), 0);
  await store.putCertificate('b.example.com', await makeCert(['b.example.com']), 1);
  // Written by the seed's scripts: no metadata, not in the index.
  const seed = await makeCert(['seed.example.com']);
  await kv.write(`${v.prefix}/equal/certificates/seed.example.com`, {
    cert: seed.cert,
    chain: seed.chain,
    privkey: seed.privkey,
  });

  const viaIndex = await inventory(store);
  const direct = await inventory(store, { useIndex: false });
  assert.deepEqual(viaIndex, direct);
  assert.deepEqual(
    viaIndex.map((s) => [s.name, s.version, s.source, s.renewal?.failures ?? 0]),
    [
      ['a.example.com', 1, 'metadata', 2],
      ['b.example.com', 2, 'metadata', 0],
      ['seed.example.com', 1, 'pem', 0],
    ],
  );
  const indexed = await store.readIndex(['a.example.com', 'b.example.com', 'seed.example.com']);
  assert.deepEqual([...indexed.keys()].sort(), ['a.example.com', 'b.example.com']);
  assert.equal(indexed.get('a.example.com')?.state?.value.failures, 2);
});

test('a certificate written after its announcement but never confirmed is read from its own records', async () => {
  const { kv, store } = storeAt('crash');
  const name = 'crash.example.com';
  const first = await makeCert([name], { notAfter: new Date(Date.now() + 30 * 86_400_000) });
  await store.putCertificate(name, first, 0);
  // A writer announces version 1 → 2, writes it with its metadata, and dies before confirming.
  await store.index!.update(name, markPending(1));
  const second = await makeCert([name], { notAfter: new Date(Date.now() + 90 * 86_400_000) });
  const writer = new StateStore(kv, `${v.prefix}/crash`, 'test');
  Object.assign(writer, { index: null }); // the same writes, minus the confirmation
  await writer.putCertificate(name, second, 1);

  assert.equal((await store.readIndex([name])).size, 0, 'unsettled entry is not used');
  const [listed] = await inventory(store);
  assert.equal(listed?.version, 2);
  assert.equal(listed?.notAfter.getTime(), (await store.getCertificateSummary(name))!.notAfter.getTime());

  // What renew does for a name the index could not answer: record what it read, settling the entry.
  await store.repairIndex(name, (await store.getCertificateSummary(name))!, await store.getState(name));
  const settled = (await store.readIndex([name])).get(name);
  assert.equal(settled?.summary.version, 2);
  assert.equal(settled?.summary.notAfter.getTime(), listed?.notAfter.getTime());
});

test('an announcement is kept while its write may still land, and dropped once its writer is gone', async () => {
  const { store } = storeAt('pending');
  const name = 'p.example.com';
  await store.putCertificate(name, await makeCert([name]), 0);
  const own = (await store.getCertificateSummary(name))!;
  // Someone is replacing version 1 right now: a repair with version 1 must not settle it.
  await store.index!.update(name, markPending(1));
  await store.repairIndex(name, own, null);
  assert.equal((await store.readIndex([name])).size, 0);
  // The same announcement, older than PENDING_STALE_MS: its writer died before writing.
  await store.index!.update(name, markPending(1, new Date(Date.now() - PENDING_STALE_MS - 1000)));
  await store.repairIndex(name, own, null);
  assert.equal((await store.readIndex([name])).get(name)?.summary.version, 1);
});

test('a failed certificate write withdraws its announcement', async () => {
  const { store } = storeAt('withdraw');
  const name = 'w.example.com';
  await store.putCertificate(name, await makeCert([name]), 0);
  await assert.rejects(store.putCertificate(name, await makeCert([name]), 0), /check-and-set conflict/);
  assert.equal((await store.readIndex([name])).get(name)?.summary.version, 1);
});

test('a repair with older facts never replaces newer ones', async () => {
  const { store } = storeAt('older');
  const name = 'o.example.com';
  await store.putCertificate(name, await makeCert([name]), 0);
  const old = (await store.getCertificateSummary(name))!;
  await store.putCertificate(name, await makeCert([name]), 1);
  await store.repairIndex(name, old, null); // a slow renew run that read version 1 earlier
  assert.equal((await store.readIndex([name])).get(name)?.summary.version, 2);
});

test('concurrent writers in separate processes sharing one shard lose no entry', async () => {
  const names = sameShard(12, 'race');
  const cert = await makeCert(['race.example.com']);
  // Three "runners", each with its own client and its own cached copy of the shard.
  const runners = [storeAt('race'), storeAt('race'), storeAt('race')].map((r) => r.store);
  await Promise.all(names.map((n, i) => runners[i % 3]!.putCertificate(n, cert, 0)));
  // Each runner writes again, starting from a copy the others have since replaced.
  await Promise.all(
    names.map((n, i) => runners[(i + 1) % 3]!.putState(n, { failures: 0, lastSuccess: `t${i}` })),
  );
  const indexed = await runners[0]!.readIndex(names);
  assert.deepEqual([...indexed.keys()].sort(), [...names].sort());
  for (const [i, n] of names.entries()) {
    assert.equal(indexed.get(n)?.summary.version, 1, n);
    assert.equal(indexed.get(n)?.state?.value.lastSuccess, `t${i}`, n);
  }
});

test('updates to one shard within a process are coalesced into few writes', async (t) => {
  if (!v.emulator) return t.skip('needs the emulator request log');
  const names = sameShard(20, 'coalesce');
  const { store } = storeAt('coalesce');
  const cert = await makeCert(['coalesce.example.com']);
  await Promise.all(names.map((n) => store.putCertificate(n, cert, 0)));
  v.emulator.resetLog();
  // 20 updates at once: the first is written alone, the 19 made during that write go in one more.
  await Promise.all(names.map((n, i) => store.index!.update(n, withState(i + 1, { failures: i }))));
  const shardWrites = v.emulator.requests.filter(
    (r) => r.method === 'POST' && r.path.includes(`/index/${indexShard(names[0]!)}`),
  ).length;
  assert.equal(shardWrites, 2);
  const indexed = await store.readIndex(names);
  assert.deepEqual(
    names.map((n) => indexed.get(n)?.state?.value.failures),
    names.map((_, i) => i),
  );
});

test('malformed index records are ignored, and a token that cannot read the index still lists', async (t) => {
  const { kv, store } = storeAt('bad');
  const names = ['x.example.com', 'y.example.com'];
  for (const n of names) await store.putCertificate(n, await makeCert([n]), 0);
  // A hand-edited shard: the name in it is read from its metadata instead.
  const x = names[0]!;
  const shard = `${v.prefix}/bad/index/${indexShard(x)}`;
  const rec = (await kv.read(shard))!;
  const entries = (rec.data as { entries: Record<string, unknown> }).entries;
  await kv.write(shard, { ...rec.data, entries: { ...entries, [x]: { cert: 'nonsense' } } });
  assert.equal((await store.readIndex([x])).size, 0);
  assert.deepEqual(
    (await inventory(store)).map((s) => s.name),
    names,
  );

  if (!v.emulator) return t.diagnostic('real Vault: ACL case skipped');
  const policy = `${v.prefix}-noindex`;
  await writePolicy(
    v,
    policy,
    [
      `path "${v.mount}/metadata/${v.prefix}/bad/certificates/" { capabilities = ["list"] }`,
      `path "${v.mount}/metadata/${v.prefix}/bad/certificates/*" { capabilities = ["read"] }`,
    ].join('\n'),
  );
  try {
    const limited = storeAt('bad', await tokenWith(v, [policy])).store;
    assert.equal((await limited.readIndex(names)).size, 0);
    assert.deepEqual(
      (await inventory(limited)).map((s) => s.name),
      names,
    );
  } finally {
    await deletePolicy(v, policy);
  }
});

test('KV v1 has no index (no check-and-set), and listing works as before', async (t) => {
  if (!v.kv1Mount) return t.skip('no KV v1 mount');
  const client = new VaultClient({ addr: v.addr, token: () => v.token, namespace: v.namespace });
  const store = new StateStore(kvFor(client, v.kv1Mount, 1), `${v.prefix}/v1`, 'test');
  assert.equal(store.index, null);
  await store.putCertificate('v1.example.com', await makeCert(['v1.example.com']), 0);
  assert.deepEqual(
    (await inventory(store)).map((s) => s.name),
    ['v1.example.com'],
  );
});

test('renew plans from the index, adds the names it lacked, and --dry-run writes nothing', async (t) => {
  if (!v.emulator) return t.skip('needs the emulator request log');
  const { kv, store } = storeAt('renew');
  const names = ['r1.example.com', 'r2.example.com', 'r3.example.com'];
  const now = Date.now();
  for (const n of names) {
    await store.putCertificate(n, await makeCert([n], { authorityKeyId: true }), 0);
    // What a previous run leaves after asking the CA: a window a month ahead, valid for 6 hours.
    await store.putState(n, {
      failures: 0,
      ari: {
        windowStart: new Date(now + 30 * 86_400_000).toISOString(),
        windowEnd: new Date(now + 31 * 86_400_000).toISOString(),
        selectedTime: new Date(now + 30.5 * 86_400_000).toISOString(),
        retryAfter: new Date(now + 6 * 3600_000).toISOString(),
        certSerial: (await store.getCertificateSummary(n))!.ariId!,
      },
    });
  }
  // The index is lost (or was never written, as for certificates adopted from other tools).
  for (const n of names) await kv.destroy(`${v.prefix}/renew/index/${indexShard(n)}`);
  const env = {
    VAULT_ADDR: v.addr,
    VAULT_TOKEN: v.token,
    CERTVAULT_VAULT_MOUNT: v.mount,
    CERTVAULT_VAULT_PREFIX: `${v.prefix}/renew`,
  };
  const run = async (...args: string[]) => {
    v.emulator!.resetLog();
    const r = await runCli(['renew', '--json', ...args], env);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const log = v.emulator!.requests;
    return {
      outcomes: (JSON.parse(r.stdout) as { name: string; outcome: string; next: string }[]).map((e) => [
        e.name,
        e.outcome,
        e.next,
      ]),
      writes: log.filter((q) => !['GET', 'LIST'].includes(q.method)).map((q) => q.path),
      ownReads: log.filter((q) => /\/(certificates|state)\/./.test(q.path)).length,
    };
  };
  const doctorIndex = async () => {
    const r = await runCli(['doctor', '--json'], env);
    const checks = (JSON.parse(r.stdout) as { checks: { name: string; warning?: boolean; detail: string }[] })
      .checks;
    return checks.find((c) => c.name === 'index');
  };
  const before = await doctorIndex();
  assert.equal(before?.warning, true);
  assert.match(before!.detail, /^3 of 3 certificates are missing from the summary index/);
  const dry = await run('--dry-run');
  assert.deepEqual(dry.writes, [], 'a dry run writes nothing, not even the index');
  assert.equal(dry.ownReads, 6, 'each certificate read from its own records');
  const first = await run();
  assert.ok(first.writes.length > 0 && first.writes.every((p) => p.includes('/index/')), first.writes.join());
  const healed = await doctorIndex();
  assert.equal(healed?.warning, undefined);
  assert.match(healed!.detail, /answers for all 3 certificates/);
  const second = await run();
  assert.equal(second.ownReads, 0, 'planned from the index alone');
  assert.deepEqual(second.writes, []);
  for (const r of [dry, first, second])
    assert.deepEqual(
      r.outcomes,
      names.map((n) => [n, 'not-due', new Date(now + 30.5 * 86_400_000).toISOString()]),
    );
});

test('facts not confirmed against the certificate for a day are read from its own records again', async () => {
  const { store } = storeAt('recheck');
  const name = 'old.example.com';
  await store.putCertificate(name, await makeCert([name]), 0);
  assert.equal((await store.readIndex([name])).size, 1);
  const age = (ms: number) =>
    store.index!.update(name, (e) => ({
      ...e,
      cert: { ...e!.cert!, checkedAt: new Date(Date.now() - ms).toISOString() },
    }));
  await age(RECHECK_MS * 0.7); // within 18 hours: still used, whatever the name's spread
  assert.equal((await store.readIndex([name])).size, 1);
  await age(RECHECK_MS + 60_000);
  assert.equal((await store.readIndex([name])).size, 0, 'too old: not used');
  assert.equal((await inventory(store))[0]?.version, 1, 'listed from its metadata');
  // What renew does for a name the index could not answer confirms the entry again.
  await store.repairIndex(name, (await store.getCertificateSummary(name))!, null);
  assert.equal((await store.readIndex([name])).size, 1);
});
