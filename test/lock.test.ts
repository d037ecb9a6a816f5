// The per-certificate renewal lease (src/core/lock.ts) on its own: respected while another runner's
// lease is live, taken over once it expired, kept alive by the heartbeat, given up when someone else
// took it, and released as an expired record.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { acquireLease, RUN_ID, type Lease } from '../src/core/lock.js';
import { silentLogger } from '../src/ops/log.js';
import { StateStore } from '../src/store/store.js';
import type { LockRecord } from '../src/store/types.js';
import { VaultClient } from '../src/vault/client.js';
import { kvFor } from '../src/vault/kv.js';
import { testVault, type TestVault } from './support/vault.js';

let v: TestVault;
let store: StateStore;
before(async () => {
  v = await testVault();
  const client = new VaultClient({ addr: v.addr, token: () => v.token, namespace: v.namespace });
  store = new StateStore(kvFor(client, v.mount, 2), `${v.prefix}/locks`, 'test');
});
after(async () => {
  await v.close();
});

const other = (expiresInMs: number): LockRecord => ({
  owner: 'other-host/4242/cafe0000',
  host: 'other-host',
  pid: 4242,
  acquiredAt: new Date().toISOString(),
  expiresAt: new Date(Date.now() + expiresInMs).toISOString(),
});

async function take(name: string, ttlMs: number): Promise<Lease> {
  const got = await acquireLease(store, name, ttlMs, silentLogger);
  assert.ok('lease' in got, `expected the lease, held by ${JSON.stringify('heldBy' in got && got.heldBy)}`);
  return got.lease;
}

test("another runner's live lease is respected; once expired it is taken over", async () => {
  const name = 'held.example.com';
  await store.putLock(name, other(60_000), 0);
  const refused = await acquireLease(store, name, 5_000, silentLogger);
  assert.ok('heldBy' in refused);
  assert.equal(refused.heldBy.owner, 'other-host/4242/cafe0000');
  assert.equal((await store.getLock(name)).value?.owner, 'other-host/4242/cafe0000', 'left untouched');

  const { version } = await store.getLock(name);
  await store.putLock(name, other(-1_000), version); // its holder died a second ago
  const lease = await take(name, 5_000);
  const now = await store.getLock(name);
  assert.equal(now.value?.owner, RUN_ID);
  assert.ok(Date.parse(now.value!.expiresAt) > Date.now() + 4_000);
  await lease.release();
});

test('the heartbeat keeps the lease alive past its ttl', async () => {
  const name = 'beat.example.com';
  const ttlMs = 1200;
  const lease = await take(name, ttlMs);
  const first = await store.getLock(name);
  await sleep(ttlMs * 2.5);
  const later = await store.getLock(name);
  assert.ok(later.version >= first.version + 3, `heartbeats written: ${later.version - first.version}`);
  assert.ok(Date.parse(later.value!.expiresAt) > Date.now(), 'still unexpired after 2.5 ttl');
  assert.equal(lease.signal.aborted, false);
  await lease.release();
});

test('a lease taken over by someone else aborts the holder at its next heartbeat', async () => {
  const name = 'stolen.example.com';
  const ttlMs = 1200;
  const lease = await take(name, ttlMs);
  const { version } = await store.getLock(name);
  await store.putLock(name, other(60_000), version);
  const t0 = Date.now();
  await new Promise<void>((resolve) => lease.signal.addEventListener('abort', () => resolve()));
  assert.ok(Date.now() - t0 < ttlMs, 'noticed before the lease would have run out');
  assert.match(
    String((lease.signal.reason as Error).message),
    /lost the renewal lock for stolen\.example\.com/,
  );
  await lease.release(); // must not overwrite the new holder
  assert.equal((await store.getLock(name)).value?.owner, 'other-host/4242/cafe0000');
});

test('release leaves an expired record, so the next runner takes it at once', async () => {
  const name = 'released.example.com';
  const lease = await take(name, 60_000);
  await lease.release();
  const after = await store.getLock(name);
  assert.ok(after.value);
  assert.ok(Date.parse(after.value.expiresAt) <= Date.now());
  // A foreign runner's view: no live lease, so a CAS on the version it read wins.
  assert.ok((await store.putLock(name, other(60_000), after.version)) > after.version);
});
