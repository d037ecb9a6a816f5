import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { Readiness } from '../src/core/serve.js';
import { parseListen } from '../src/cli/commands/serve.js';
import { parseDuration, parseFraction } from '../src/cli/duration.js';
import { CLI, runCli } from './support/cli.js';
import { openWorld, issueAll } from './support/world.js';
import { startStack, type Stack } from './support/stack.js';
import { startAcmeFront, type AcmeFront } from './support/acme-front.js';
import { testVault, type TestVault } from './support/vault.js';
import { parseProm, valueOf } from './support/prom.js';

// ---- units -------------------------------------------------------------------------------------------

test('readiness: a recent store contact, and no CA failure since the CA last answered', () => {
  const r = new Readiness(10_000);
  assert.deepEqual(r.check(0).ready, false, 'not ready before the first contact');
  r.storeOk(1000);
  assert.equal(r.check(5000).ready, true);
  assert.equal(r.check(12_000).ready, false, 'store contact too old');
  r.storeOk(12_000);
  r.acme(0, 12_500);
  const down = r.check(13_000);
  assert.equal(down.ready, false);
  assert.match(down.reasons.join(), /the CA failed/);
  r.acme(404, 14_000); // an answer, even an error one, shows the CA is up
  assert.equal(r.check(15_000).ready, true);
  r.acme(503, 16_000);
  assert.equal(r.check(17_000).ready, false);
  r.storeOk(25_000);
  assert.equal(r.check(26_500).ready, true, 'an old CA failure no longer counts');
});

test('durations, shares and listen addresses', () => {
  assert.equal(parseDuration('--interval', '15m'), 900_000);
  assert.equal(parseDuration('--interval', '1h30m'), 5_400_000);
  assert.equal(parseDuration('--interval', '90'), 90_000);
  assert.equal(parseDuration('--interval', '0.5s'), 500);
  for (const bad of ['', '0', '-1m', '5 minutes', 'm'])
    assert.throws(() => parseDuration('--interval', bad), /invalid --interval/);
  assert.equal(parseFraction('--jitter', '10%'), 0.1);
  assert.equal(parseFraction('--jitter', '0'), 0);
  for (const bad of ['', '%', '150%', '-1', 'x'])
    assert.throws(() => parseFraction('--jitter', bad), /invalid --jitter/);
  assert.deepEqual(parseListen('127.0.0.1:9180'), { host: '127.0.0.1', port: 9180 });
  assert.deepEqual(parseListen('[::1]:0'), { host: '::1', port: 0 });
  for (const bad of ['9180', '127.0.0.1', 'a b:1', '1.2.3.4:70000'])
    assert.throws(() => parseListen(bad), /invalid --listen/);
});

test('bad serve options are usage errors (exit 2)', async () => {
  for (const args of [
    ['--interval', 'soon'],
    ['--jitter', '200%'],
    ['--listen', 'nowhere'],
    ['--ready-intervals', '0'],
  ]) {
    const r = await runCli(['serve', ...args], { CERTVAULT_STORE: 'file:/nonexistent-cv' });
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1);
  }
});

// ---- end to end --------------------------------------------------------------------------------------

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

async function world(label: string) {
  const w = await openWorld(stack, vault, label, front.directoryUrl);
  const [name] = await issueAll(w, stack, [`${stack.bind.unique()}.example.test`]);
  const ariId = (await w.store.getCertificateSummary(name!))!.ariId!;
  assert.ok(ariId);
  return { env: w.env, store: w.store, name: name!, ariId };
}

/** ARI says "renew now" for `dueId` only; every newer certificate gets a window a month away. */
function dueOnly(dueId: string): void {
  front.renewalInfo = (id) =>
    id === dueId
      ? {
          window: { start: new Date(Date.now() - 7200_000), end: new Date(Date.now() - 3600_000) },
          retryAfterSeconds: 3600,
        }
      : {
          window: {
            start: new Date(Date.now() + 30 * 86_400_000),
            end: new Date(Date.now() + 31 * 86_400_000),
          },
          retryAfterSeconds: 3600,
        };
}

interface Run {
  ok: boolean;
  error?: string;
  entries: { name: string; outcome: string }[];
}

function startServe(env: Record<string, string>, args: string[]) {
  const child = spawn(
    process.execPath,
    [CLI, 'serve', '--listen', '127.0.0.1:0', '--jitter', '0', '--json', '--log-level', 'info', ...args],
    {
      env: { ...env, PATH: process.env.PATH ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const runs = () =>
    stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Run);
  const waitFor = async (what: string, ok: () => boolean, ms = 60_000) => {
    const end = Date.now() + ms;
    while (!ok()) {
      if (Date.now() > end)
        throw new Error(`timed out waiting for ${what}\nstdout: ${stdout}\nstderr: ${stderr.slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const base = async () => {
    await waitFor('the listening line', () => /serving (http:\/\/\S+)\/metrics/.test(stderr), 15_000);
    return (/serving (http:\/\/\S+)\/metrics/.exec(stderr) as RegExpExecArray)[1] as string;
  };
  return { child, exited, runs, waitFor, base, stderr: () => stderr };
}

test('serve renews a due certificate on schedule, answers /healthz, /readyz and /metrics, rides out a Vault outage, exits 0 on SIGTERM', async (t) => {
  const w = await world('schedule');
  dueOnly(w.ariId);
  const s = startServe(w.env, ['--interval', '1s', '--ready-intervals', '2']);
  try {
    const base = await s.base();
    await s.waitFor('a renewal', () =>
      s.runs().some((r) => r.entries.some((e) => e.name === w.name && e.outcome === 'renewed')),
    );
    const renewed = await w.store.getCertificateSummary(w.name);
    assert.notEqual(renewed!.ariId, w.ariId, 'a new certificate is stored');
    await s.waitFor(
      'a later run that finds nothing due',
      () => s.runs().filter((r) => r.ok && r.entries.every((e) => e.outcome === 'not-due')).length >= 1,
    );
    assert.equal(
      s
        .runs()
        .flatMap((r) => r.entries)
        .filter((e) => e.outcome === 'renewed').length,
      1,
      'renewed once',
    );

    const health = await fetch(`${base}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(await health.text(), 'ok\n');
    const ready = await fetch(`${base}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { ready: true, reasons: [] });
    const metrics = await fetch(`${base}/metrics`);
    assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain/);
    const f = parseProm(await metrics.text());
    assert.equal(
      valueOf(f, 'certvault_certificate_not_after_timestamp_seconds', { name: w.name }),
      renewed!.notAfter.getTime() / 1000,
    );
    assert.equal(valueOf(f, 'certvault_renewal_attempts_total', { name: w.name }), 1);
    assert.ok(
      valueOf(f, 'certvault_next_renewal_timestamp_seconds', { name: w.name })! >
        Date.now() / 1000 + 29 * 86_400,
    );
    assert.equal(valueOf(f, 'certvault_last_run_success'), 1);
    assert.ok(
      valueOf(f, 'certvault_acme_request_duration_seconds_count', {
        endpoint: 'renewalInfo',
        status: '200',
      })! >= 1,
    );
    assert.equal((await fetch(`${base}/nope`)).status, 404);

    if (!vault.emulator) return t.skip('the outage needs the emulator');
    // Vault answers 503 to everything for a while: runs fail and are retried, the process stays up.
    const failedBefore = s.runs().filter((r) => r.error).length;
    const fault = vault.emulator.addFault({ status: 503, body: { errors: ['Vault is sealed'] } });
    try {
      await s.waitFor('a failed run', () => s.runs().filter((r) => r.error).length > failedBefore);
      assert.match(s.runs().findLast((r) => r.error)!.error!, /sealed/);
      let status = 200;
      const end = Date.now() + 20_000;
      while (status === 200 && Date.now() < end) {
        status = (await fetch(`${base}/readyz`)).status;
        if (status === 200) await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(status, 503, '/readyz fails once the store has been unreachable for the readiness window');
      assert.equal((await fetch(`${base}/healthz`)).status, 200, 'still alive');
    } finally {
      fault();
    }
    const runsBefore = s.runs().length;
    await s.waitFor('a successful run after the outage', () =>
      s
        .runs()
        .slice(runsBefore)
        .some((r) => r.ok && !r.error),
    );
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    const g = parseProm(await (await fetch(`${base}/metrics`)).text());
    assert.equal(valueOf(g, 'certvault_last_run_success'), 1);
  } finally {
    s.child.kill('SIGTERM');
  }
  assert.equal(await s.exited, 0, s.stderr());
  assert.match(s.stderr(), /info: stopped/);
});

test('SIGTERM during a renewal aborts it, releases the lease and exits 0', async () => {
  const w = await world('sigterm');
  dueOnly(w.ariId);
  const s = startServe(w.env, ['--interval', '1m']);
  try {
    await s.base();
    await s.waitFor('the renewal to start', () =>
      new RegExp(`${w.name.replace(/\./g, '\\.')}: ordering`).test(s.stderr()),
    );
    const lock = await w.store.getLock(w.name);
    assert.ok(
      lock.value && Date.parse(lock.value.expiresAt) > Date.now(),
      'the lease is held while renewing',
    );
  } finally {
    s.child.kill('SIGTERM');
  }
  assert.equal(await s.exited, 0, s.stderr());
  const lock = await w.store.getLock(w.name);
  assert.equal(
    lock.value?.expiresAt,
    new Date(0).toISOString(),
    'the lease was released, not left to expire',
  );
});
