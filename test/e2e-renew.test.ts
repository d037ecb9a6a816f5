import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { certificateMatchesKey } from '../src/pki/cert.js';
import { makeCert } from './support/certs.js';
import { CLI, runCli } from './support/cli.js';
import { openWorld, issueAll, type World } from './support/world.js';
import { setupCommands, startStack, type Stack } from './support/stack.js';
import { startAcmeFront, type AcmeFront } from './support/acme-front.js';
import { deactivateValidAuthorizations } from './support/acme-authz.js';
import { testVault, type TestVault } from './support/vault.js';

let stack: Stack;
let front: AcmeFront;
let vault: TestVault;

before(async () => {
  stack = await startStack();
  front = await startAcmeFront(stack.pebble.directoryUrl, stack.pebble.caCertPem);
  vault = await testVault();
});
after(async () => {
  await vault?.close();
  await front?.stop();
  await stack?.stop();
});

const world = (label: string): Promise<World> => openWorld(stack, vault, label, front.directoryUrl);
const issueMany = (w: World, count: number): Promise<string[]> =>
  issueAll(
    w,
    stack,
    Array.from({ length: count }, () => `${stack.bind.unique()}.example.test`),
  );

async function assertAllValid(w: World, names: string[]): Promise<void> {
  for (const n of names) {
    const c = await w.store.getCertificate(n);
    assert.ok(c, `${n} stored`);
    assert.ok(certificateMatchesKey(c.material.cert, c.material.privkey), `${n}: key matches`);
    assert.ok(c.notAfter.getTime() > Date.now(), `${n}: valid`);
    assert.equal(await w.store.getJournal(n), null, `${n}: no journal left`);
  }
}

test('ten concurrent `renew --force` runs over 20 certificates order each exactly once', async () => {
  const w = await world('concurrent');
  front.renewalInfo = () => ({ status: 404 });
  const names = await issueMany(w, 20);
  const versions = await Promise.all(
    names.map(async (n) => (await w.store.getCertificateSummary(n))!.version),
  );
  const before = stack.pebble.countOrders();
  const runs = await Promise.all(
    Array.from({ length: 10 }, () => runCli(['renew', '--force', '--json', ...names], w.env)),
  );
  for (const r of runs) assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(
    stack.pebble.countOrders() - before,
    20,
    "exactly one new order per certificate (counted in Pebble's log)",
  );
  const renewed = runs.flatMap((r) =>
    (JSON.parse(r.stdout) as { name: string; outcome: string }[])
      .filter((e) => e.outcome === 'renewed')
      .map((e) => e.name),
  );
  assert.deepEqual([...renewed].sort(), [...names].sort(), 'each certificate renewed by exactly one run');
  const after = await Promise.all(names.map(async (n) => (await w.store.getCertificateSummary(n))!.version));
  after.forEach((v, i) => assert.equal(v, versions[i]! + 1));
  await assertAllValid(w, names);
});

test('crash safety: renew killed with SIGKILL at random moments, then a normal renew', async (t) => {
  const w = await world('crash');
  front.renewalInfo = () => ({ status: 404 });
  const [name] = await issueMany(w, 1);
  const trials = 20;
  let resumed = 0;
  for (let i = 0; i < trials; i++) {
    const before = stack.pebble.countOrders();
    // Even trials: a random moment of the whole run. Odd trials: a random moment just after the
    // order is journaled (the narrow window that matters most), found from the progress output.
    await new Promise<void>((resolve) => {
      const child = spawn(
        process.execPath,
        [CLI, 'renew', '--force', '--lock-ttl', '1', '--log-level', 'info', name!],
        {
          env: { ...w.env, PATH: process.env.PATH ?? '' },
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      const kill = () => child.kill('SIGKILL');
      let timer = i % 2 === 0 ? setTimeout(kill, Math.random() * 2500) : undefined;
      child.stderr.on('data', (d: Buffer) => {
        if (!timer && d.toString().includes('finalizing the order'))
          timer = setTimeout(kill, Math.random() * 60);
      });
      child.on('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    // A normal run resumes a journal at once; a lease left by the killed run is waited out.
    for (let attempt = 0; ; attempt++) {
      const r = await w.cli('renew', '--lock-ttl', '1', '--json', name!);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const [entry] = JSON.parse(r.stdout) as { outcome: string; resumed?: boolean }[];
      if (entry?.resumed) resumed++;
      if (entry?.outcome !== 'deferred') break;
      assert.ok(attempt < 10, "the dead run's lease expires");
      await new Promise((r2) => setTimeout(r2, 400));
    }
    assert.ok(stack.pebble.countOrders() - before <= 2, `trial ${i}: at most one extra order`);
    await assertAllValid(w, [name!]);
  }
  assert.ok(resumed > 0, 'at least one trial resumed a journaled order');
  t.diagnostic(`${resumed} of ${trials} trials resumed a journaled order`);
});

test('ARI: a window in the past renews with `replaces`, a future one does not order', async () => {
  const w = await world('ari');
  const [name] = await issueMany(w, 1);
  const ariId = (await w.store.getCertificateSummary(name!))!.ariId!;
  assert.ok(ariId);

  front.renewalInfo = () => ({
    window: { start: new Date(Date.now() + 30 * 86_400_000), end: new Date(Date.now() + 31 * 86_400_000) },
    retryAfterSeconds: 3600,
  });
  front.renewalInfoRequests.length = 0;
  let before = stack.pebble.countOrders();
  const notDue = await w.cli('renew', '--json');
  assert.equal(notDue.code, 0, notDue.stderr);
  const [e1] = JSON.parse(notDue.stdout) as { outcome: string; next: string; reason: string }[];
  assert.equal(e1?.outcome, 'not-due');
  assert.match(e1!.reason, /ARI window/);
  assert.ok(Date.parse(e1!.next) >= Date.now() + 29 * 86_400_000);
  assert.equal(stack.pebble.countOrders(), before, 'no order');
  assert.deepEqual(front.renewalInfoRequests, [ariId]);

  // Retry-After is respected: a second run within it does not ask the CA again.
  const again = await w.cli('renew', '--json');
  assert.equal((JSON.parse(again.stdout) as { outcome: string }[])[0]?.outcome, 'not-due');
  assert.equal(front.renewalInfoRequests.length, 1, 'cached ARI answer used until Retry-After');
  const state = (await w.store.getState(name!))!.value;
  assert.ok(state.ari && Date.parse(state.ari.retryAfter) > Date.now() + 3500_000);

  // Past window (after Retry-After has passed): renews, sending replaces.
  await w.store.putState(name!, {
    ...state,
    ari: { ...state.ari!, retryAfter: new Date(Date.now() - 1000).toISOString() },
  });
  front.renewalInfo = () => ({
    window: { start: new Date(Date.now() - 7200_000), end: new Date(Date.now() - 3600_000) },
    retryAfterSeconds: 3600,
  });
  before = stack.pebble.countOrders();
  const due = await w.cli('renew', '--json', '--log-level', 'debug');
  assert.equal(due.code, 0, due.stderr);
  assert.equal((JSON.parse(due.stdout) as { outcome: string }[])[0]?.outcome, 'renewed');
  assert.equal(stack.pebble.countOrders() - before, 1);
  assert.match(due.stderr, new RegExp(`replaces=${ariId.replace(/[.]/g, '\\.')}`));
  assert.notEqual((await w.store.getCertificateSummary(name!))!.ariId, ariId);
});

test('ARI errors and 404 fall back to the lifetime rule', async () => {
  const w = await world('ari-fallback');
  const [name] = await issueMany(w, 1);
  for (const status of [404, 500]) {
    front.renewalInfo = () => ({ status });
    await w.store.putState(name!, { failures: 0 });
    const r = await w.cli('renew', '--json');
    assert.equal(r.code, 0, r.stderr);
    const [e] = JSON.parse(r.stdout) as { outcome: string; reason: string }[];
    assert.equal(e?.outcome, 'not-due');
    assert.match(e!.reason, /lifetime/);
  }
  // Due by the rule: a 90-day certificate with 20 days left (< 1/3), then a 6-day one with 2.5 days
  // left (< 1/2, though more than 1/3).
  const day = 86_400_000;
  for (const [lifetime, left] of [
    [90, 20],
    [6, 2.5],
  ] as const) {
    const notAfter = new Date(Date.now() + left * day);
    const old = await makeCert([name!], {
      notBefore: new Date(notAfter.getTime() - lifetime * day),
      notAfter,
    });
    const { version } = (await w.store.getCertificate(name!))!;
    await w.store.putCertificate(name!, old, version);
    const r = await w.cli('renew', '--json');
    assert.equal(r.code, 0, r.stderr);
    const [e] = JSON.parse(r.stdout) as { outcome: string; reason: string }[];
    assert.equal(e?.outcome, 'renewed', `${lifetime} days, ${left} left: ${e?.reason}`);
    assert.match(e!.reason, /lifetime/);
  }
  await assertAllValid(w, [name!]);
});

test('backoff survives restarts; rateLimited with Retry-After defers renewals', async () => {
  const w = await world('backoff');
  const [name] = await issueMany(w, 1);
  front.renewalInfo = () => ({ status: 404 });
  front.refuseOrders = {
    status: 429,
    type: 'rateLimited',
    detail: 'too many certificates already issued',
    retryAfterSeconds: 7200,
  };
  try {
    const first = await w.cli('renew', '--force', '--json');
    assert.equal(first.code, 1, 'a failed certificate makes the run exit 1');
    const [e] = JSON.parse(first.stdout) as { outcome: string; next: string; reason: string }[];
    assert.equal(e?.outcome, 'failed');
    assert.match(e!.reason, /rateLimited/);
    assert.ok(Date.parse(e!.next) >= Date.now() + 7000_000, 'next attempt honours Retry-After');
    const refused = front.refusedOrders;
    // New processes: the failure and its backoff come from the store.
    for (let i = 0; i < 3; i++) {
      const r = await w.cli('renew', '--json');
      assert.equal(r.code, 0);
      const [d] = JSON.parse(r.stdout) as { outcome: string; reason: string }[];
      assert.equal(d?.outcome, 'deferred');
      assert.match(d!.reason, /backing off after 1 failure\(s\) \(rateLimited/);
    }
    assert.equal(front.refusedOrders, refused, 'the CA is not asked again while backing off');
    const show = await w.cli('show', name!);
    assert.match(show.stdout, /last problem\s+rateLimited: too many certificates already issued/);
    const list = await w.cli('list', '--json');
    assert.match(list.stdout, /rateLimited/);
  } finally {
    front.refuseOrders = undefined;
  }
  const ok = await w.cli('renew', '--force', '--json');
  assert.equal(ok.code, 0, ok.stderr);
  const [listed] = JSON.parse((await w.cli('list', '--json')).stdout) as {
    failures: number;
    lastProblem: string | null;
  }[];
  assert.deepEqual(
    [listed?.failures, listed?.lastProblem],
    [0, null],
    'a successful renewal clears the status',
  );
});

test('dry run prints the plan and changes nothing', async () => {
  const w = await world('dry');
  const [name] = await issueMany(w, 1);
  front.renewalInfo = () => ({
    window: { start: new Date(Date.now() - 7200_000), end: new Date(Date.now() - 3600_000) },
  });
  const before = stack.pebble.countOrders();
  const stateBefore = await w.store.getState(name!);
  const r = await w.cli('renew', '--dry-run');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /would-renew/);
  assert.equal(stack.pebble.countOrders(), before);
  assert.deepEqual(await w.store.getState(name!), stateBefore);
});

test('a certificate rewritten by another tool after it was indexed is decided on what is stored now', async () => {
  const w = await world('rewritten');
  const [name] = await issueMany(w, 1);
  const first = (await w.store.getCertificate(name!))!;
  front.renewalInfo = () => ({ status: 404 });
  // Due by a cached ARI answer whose moment has passed; the summary index records it with version 1.
  const past = new Date(Date.now() - 3600_000).toISOString();
  await w.store.putState(name!, {
    failures: 0,
    ari: {
      windowStart: past,
      windowEnd: past,
      selectedTime: past,
      retryAfter: new Date(Date.now() + 3600_000).toISOString(),
      certSerial: first.ariId!,
    },
  });
  // The seed's deploy hook writes the certificate again (no check-and-set, no metadata): version 2,
  // behind the index's back.
  const { cert, chain, privkey } = first.material;
  await w.store.kv.write(`${w.prefix}/certificates/${name}`, { cert, chain, privkey });
  const before = stack.pebble.countOrders();
  const r = await w.cli('renew', '--json');
  assert.equal(r.code, 0, r.stderr);
  const [e] = JSON.parse(r.stdout) as { outcome: string; reason: string }[];
  assert.equal(e?.outcome, 'renewed', `${e?.outcome}: ${e?.reason}`);
  assert.equal(stack.pebble.countOrders() - before, 1);
  const now = (await w.store.getCertificateSummary(name!))!;
  assert.equal(now.version, 3);
  assert.equal((await w.store.readIndex([name!])).get(name!)?.summary.version, 3, 'index follows');
});

test('the order for a due ARI window carries `replaces`, as the CA receives it', async () => {
  const w = await world('replaces');
  const [name] = await issueMany(w, 1);
  const ariId = (await w.store.getCertificateSummary(name!))!.ariId!;
  front.renewalInfo = () => ({
    window: { start: new Date(Date.now() - 7200_000), end: new Date(Date.now() - 3600_000) },
    retryAfterSeconds: 3600,
  });
  // The front takes the newOrder itself (Pebble 2.4 knows no ARI) and answers rateLimited.
  front.orderPayloads.length = 0;
  front.refuseOrders = { status: 429, type: 'rateLimited', detail: 'slow down', retryAfterSeconds: 60 };
  try {
    const r = await w.cli('renew', '--json');
    assert.equal((JSON.parse(r.stdout) as { outcome: string }[])[0]?.outcome, 'failed', r.stderr);
  } finally {
    front.refuseOrders = undefined;
  }
  assert.equal(front.orderPayloads.length, 1);
  assert.equal(front.orderPayloads[0]!.replaces, ariId);
  assert.deepEqual(front.orderPayloads[0]!.identifiers, [{ type: 'dns', value: name }]);
});

test('renew works with the whole file system read-only, as in a read-only container', async (t) => {
  const unshare = ['unshare', '--mount', '--propagation', 'private'];
  if (spawnSync(unshare[0]!, [...unshare.slice(1), 'true']).status !== 0)
    return t.skip('needs unshare --mount (root with CAP_SYS_ADMIN)');
  const w = await world('read-only');
  const [name] = await issueMany(w, 1);
  front.renewalInfo = () => ({ status: 404 });
  // In its own mount namespace, / (which holds /tmp, HOME and the CLI) is remounted read-only first.
  const readOnly = [
    ...unshare,
    'sh',
    '-c',
    'mount -o remount,bind,ro / && ! touch /.cv-probe 2>/dev/null || { echo "cannot make / read-only" >&2; exit 99; }; exec "$@"',
    'sh',
  ];
  const r = await runCli(['renew', '--force', '--json'], w.env, undefined, readOnly);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as { outcome: string }[])[0]?.outcome, 'renewed');
  assert.equal((await w.store.getCertificate(name!))!.version, 2);
  await assertAllValid(w, [name!]);
});

test('on a KV v1 mount renew works and warns that its leases are best effort', async (t) => {
  if (!vault.kv1Mount) return t.skip('no KV v1 mount (set CERTVAULT_TEST_VAULT_KV1_MOUNT)');
  const w = await openWorld(stack, { ...vault, mount: vault.kv1Mount }, 'kv1', front.directoryUrl);
  const [name] = await issueMany(w, 1);
  front.renewalInfo = () => ({ status: 404 });
  const before = (await w.store.getCertificate(name!))!.serial;
  const r = await w.cli('renew', '--force', '--json');
  assert.equal(r.code, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as { outcome: string }[])[0]?.outcome, 'renewed');
  assert.notEqual((await w.store.getCertificate(name!))!.serial, before);
  await assertAllValid(w, [name!]);
  assert.match(r.stderr, /KV v1 mount: without check-and-set the renewal leases are best effort/);
  assert.equal(r.stderr.match(/KV v1 mount/g)?.length, 1, 'said once per run');
  const idle = await w.cli('renew', '--json');
  assert.doesNotMatch(idle.stderr, /KV v1/, 'not when nothing is due');
});

test('--concurrency bounds the renewals in progress at once (default 4); out of range is a usage error', async () => {
  const w = await world('concurrency');
  const names = await issueMany(w, 6);
  front.renewalInfo = () => ({ status: 404 });
  // The front holds each newOrder for a while and refuses it, counting how many are open at once.
  front.refuseOrders = { status: 403, type: 'unauthorized', detail: 'not now' };
  front.refuseDelayMs = 400;
  try {
    for (const [args, expected] of [
      [['--concurrency', '2'], 2],
      [[], 4],
    ] as const) {
      front.maxOrdersInFlight = 0;
      front.refusedOrders = 0;
      const r = await w.cli('renew', '--force', '--json', ...args);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(front.refusedOrders, names.length, 'every certificate was tried');
      assert.equal(front.maxOrdersInFlight, expected, `renew ${args.join(' ')}`);
    }
  } finally {
    front.refuseOrders = undefined;
    front.refuseDelayMs = 0;
  }
  for (const bad of ['0', '65', 'two']) {
    const r = await w.cli('renew', '--concurrency', bad);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`invalid --concurrency "${bad}"; give a whole number from 1 to 64`));
  }
});

test('the profile chosen at issuance is asked for again at renewal', async () => {
  const w = await world('profile');
  const name = `${stack.bind.unique()}.example.test`;
  front.renewalInfo = () => ({ status: 404 });
  front.profiles = { classic: 'the default', shortlived: 'six days' };
  front.orderPayloads.length = 0;
  try {
    const issued = await w.cli('issue', '-d', name, '--dns', 'bind', '--profile', 'shortlived');
    assert.equal(issued.code, 0, issued.stderr);
    assert.equal((await w.store.getParams(name))!.value.profile, 'shortlived');
    // The front takes the renewal's newOrder itself, to show what the CA is asked for.
    front.refuseOrders = { status: 429, type: 'rateLimited', detail: 'slow down', retryAfterSeconds: 60 };
    const r = await w.cli('renew', '--force', '--json', name);
    assert.equal((JSON.parse(r.stdout) as { outcome: string }[])[0]?.outcome, 'failed', r.stderr);
  } finally {
    front.refuseOrders = undefined;
    front.profiles = undefined;
  }
  assert.equal(front.orderPayloads.length, 1);
  assert.equal(front.orderPayloads[0]!.profile, 'shortlived');
});

test('one failing certificate does not stop the others; the run exits 1 and reports both', async () => {
  const w = await world('one-fails');
  const [good, bad] = await issueMany(w, 2);
  front.renewalInfo = () => ({ status: 404 });
  // The second one's DNS credentials now carry a wrong TSIG secret: BIND refuses its update.
  const set = await runCli(
    [...setupCommands(stack, { dnsName: 'wrong' }).dnsSet.slice(0, -1), 'tsig-secret=@env:WRONG'],
    { ...w.env, WRONG: Buffer.alloc(32, 7).toString('base64') },
  );
  assert.equal(set.code, 0, set.stderr);
  const params = (await w.store.getParams(bad!))!.value;
  await w.store.putParams(bad!, { ...params, dns: 'wrong' });
  // Without this, Pebble may let the renewal reuse the authorization it just validated.
  assert.ok(
    (await deactivateValidAuthorizations(w.store, front.directoryUrl, stack.pebble.caCertPem, bad!)) > 0,
  );
  const r = await w.cli('renew', '--force', '--json');
  assert.equal(r.code, 1, `${r.stderr}\n${r.stdout}`);
  const entries = JSON.parse(r.stdout) as { name: string; outcome: string; reason: string }[];
  assert.deepEqual(
    entries.map((e) => [e.name, e.outcome]).sort(),
    [
      [bad, 'failed'],
      [good, 'renewed'],
    ].sort(),
  );
  assert.match(entries.find((e) => e.name === bad)!.reason, /TSIG|BADSIG|NOTAUTH|refused/i);
  await assertAllValid(w, [good!, bad!]);
});
