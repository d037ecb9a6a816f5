import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, readdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metrics, acmeEndpoint, vaultOperation, writeTextfile } from '../src/ops/metrics.js';
import { reportAcmeResponse, reportVaultResponse } from '../src/ops/observe.js';
import { runCli } from './support/cli.js';
import { openWorld, issueAll, type World } from './support/world.js';
import { startStack, type Stack } from './support/stack.js';
import { deactivateValidAuthorizations } from './support/acme-authz.js';
import { startAcmeFront, type AcmeFront } from './support/acme-front.js';
import { testVault, type TestVault } from './support/vault.js';
import { parseProm, samplesOf, valueOf } from './support/prom.js';

// ---- units -------------------------------------------------------------------------------------------

test('ACME actions map to endpoint kinds, Vault requests to operation kinds (never paths or URLs)', () => {
  const acme: [string, string][] = [
    ['directory', 'directory'],
    ['new nonce', 'newNonce'],
    ['new account', 'newAccount'],
    ['new order', 'newOrder'],
    ['authorization fetch', 'authz'],
    ['challenge response', 'challenge'],
    ['order finalization', 'finalize'],
    ['order fetch', 'order'],
    ['certificate download', 'certificate'],
    ['alternate chain download', 'certificate'],
    ['renewal info', 'renewalInfo'],
    ['certificate revocation', 'revokeCert'],
    ['something new', 'other'],
  ];
  for (const [action, endpoint] of acme) assert.equal(acmeEndpoint(action), endpoint, action);
  const vault: [string, string, string][] = [
    ['GET', 'secret/data/lets-encrypt/certificates/a.example', 'read data'],
    ['POST', 'secret/data/lets-encrypt/locks/a.example', 'write data'],
    ['GET', 'secret/metadata/lets-encrypt/certificates/', 'list metadata'],
    ['GET', 'secret/metadata/lets-encrypt/certificates/a.example', 'read metadata'],
    ['POST', 'secret/metadata/lets-encrypt/certificates/a.example', 'write metadata'],
    ['DELETE', 'secret/metadata/lets-encrypt/orders/a.example', 'delete metadata'],
    ['GET', 'kv/team/data/x/metadata/y', 'read data'],
    ['GET', 'sys/internal/ui/mounts/secret/lets-encrypt', 'read mounts'],
    ['GET', 'auth/token/lookup-self', 'read token'],
    ['POST', 'auth/approle/login', 'write login'],
    ['GET', 'kv1/lets-encrypt/certificates/a.example', 'read kv'],
  ];
  for (const [m, p, op] of vault) assert.equal(vaultOperation(m, p), op, `${m} ${p}`);
});

test('the registry round-trips through a strict parser; vanished certificates lose their gauges', async () => {
  const m = new Metrics();
  const off = m.observeRequests();
  reportAcmeResponse({ action: 'new order', method: 'POST', status: 201, ms: 120 });
  reportAcmeResponse({ action: 'new order', method: 'POST', status: 0, ms: 30_000 });
  reportVaultResponse({ method: 'GET', path: 'secret/data/le/certificates/a', status: 200, ms: 3 });
  off();
  reportVaultResponse({ method: 'GET', path: 'secret/data/le/certificates/a', status: 200, ms: 3 });
  const notAfter = '2030-01-02T03:04:05.000Z';
  m.recordResult(
    { name: 'a.example', outcome: 'renewed', notAfter },
    { nextRenewal: new Date('2029-11-01T00:00:00Z') },
  );
  m.recordResult(
    { name: 'b.example', outcome: 'failed', notAfter, next: '2029-12-01T00:00:00.000Z' },
    { failureType: 'rateLimited' },
  );
  m.recordResult({
    name: 'c "quoted"\\name',
    outcome: 'not-due',
    notAfter,
    next: '2029-12-24T00:00:00.000Z',
  });
  m.recordRun(false, ['a.example', 'b.example', 'c "quoted"\\name'], new Date('2029-10-01T00:00:00Z'));
  let f = parseProm(await m.text());
  assert.equal(
    valueOf(f, 'certvault_certificate_not_after_timestamp_seconds', { name: 'a.example' }),
    Date.parse(notAfter) / 1000,
  );
  assert.equal(
    valueOf(f, 'certvault_certificate_not_after_timestamp_seconds', { name: 'c "quoted"\\name' }),
    Date.parse(notAfter) / 1000,
    'label escaping',
  );
  assert.equal(
    valueOf(f, 'certvault_next_renewal_timestamp_seconds', { name: 'a.example' }),
    Date.parse('2029-11-01T00:00:00Z') / 1000,
  );
  assert.equal(
    valueOf(f, 'certvault_next_renewal_timestamp_seconds', { name: 'b.example' }),
    Date.parse('2029-12-01T00:00:00Z') / 1000,
  );
  assert.equal(valueOf(f, 'certvault_renewal_attempts_total', { name: 'a.example' }), 1);
  assert.equal(valueOf(f, 'certvault_renewal_attempts_total', { name: 'b.example' }), 1);
  assert.equal(
    valueOf(f, 'certvault_renewal_attempts_total', { name: 'c "quoted"\\name' }),
    undefined,
    'not-due is not an attempt',
  );
  assert.equal(valueOf(f, 'certvault_renewal_failures_total', { name: 'b.example', type: 'rateLimited' }), 1);
  assert.equal(
    valueOf(f, 'certvault_acme_request_duration_seconds_count', { endpoint: 'newOrder', status: '201' }),
    1,
  );
  assert.equal(
    valueOf(f, 'certvault_acme_request_duration_seconds_count', { endpoint: 'newOrder', status: 'error' }),
    1,
  );
  assert.equal(
    valueOf(f, 'certvault_vault_request_duration_seconds_count', { operation: 'read data', status: '200' }),
    1,
    'nothing recorded after unsubscribing',
  );
  assert.equal(valueOf(f, 'certvault_last_run_success'), 0);
  assert.equal(valueOf(f, 'certvault_last_run_timestamp_seconds'), Date.parse('2029-10-01T00:00:00Z') / 1000);

  m.recordRun(true, ['a.example']);
  f = parseProm(await m.text());
  assert.equal(
    valueOf(f, 'certvault_certificate_not_after_timestamp_seconds', { name: 'b.example' }),
    undefined,
  );
  assert.equal(
    valueOf(f, 'certvault_renewal_failures_total', { name: 'b.example', type: 'rateLimited' }),
    1,
    'counters are history',
  );
  assert.equal(valueOf(f, 'certvault_last_run_success'), 1);
});

test('the strict parser rejects malformed exposition', () => {
  assert.throws(() => parseProm('x 1\n'), /without a TYPE/);
  assert.throws(() => parseProm('# TYPE x gauge\nx{a="1} 1\n'), /bad/);
  assert.throws(() => parseProm('# TYPE x gauge\nx 1'), /newline/);
  assert.throws(() => parseProm('# TYPE x gauge\nx 1\nx 2\n'), /duplicate/);
  assert.throws(
    () => parseProm('# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'),
    /cumulative/,
  );
});

test('textfile: written atomically (no temporary left), 0644, and only as *.prom', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cv-prom-'));
  await writeTextfile(join(dir, 'certvault.prom'), '# TYPE x gauge\nx 1\n');
  assert.deepEqual(await readdir(dir), ['certvault.prom']);
  assert.equal((await stat(join(dir, 'certvault.prom'))).mode & 0o777, 0o644);
  await assert.rejects(writeTextfile(join(dir, 'metrics.txt'), ''), /invalid --metrics-textfile/);
  await assert.rejects(
    writeTextfile(join(dir, 'missing', 'x.prom'), ''),
    /cannot write the metrics textfile/,
  );
});

// ---- renew --metrics-textfile / --metrics-push end to end --------------------------------------------

let stack: Stack;
let front: AcmeFront;
let vault: TestVault;
let gateway: Server;
let gatewayUrl = '';
const pushes: { method: string; url: string; type: string; body: string }[] = [];

before(async () => {
  stack = await startStack();
  front = await startAcmeFront(stack.pebble.directoryUrl, stack.pebble.caCertPem);
  vault = await testVault();
  gateway = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      pushes.push({
        method: req.method ?? '',
        url: req.url ?? '',
        type: String(req.headers['content-type']),
        body,
      });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
  gatewayUrl = `http://127.0.0.1:${(gateway.address() as { port: number }).port}`;
});
after(async () => {
  gateway?.closeAllConnections();
  await new Promise((r) => gateway?.close(r));
  await vault?.close();
  await front?.stop();
  await stack?.stop();
});

async function world(label: string): Promise<World & { name: string; dir: string }> {
  const w = await openWorld(stack, vault, label, front.directoryUrl);
  const [name] = await issueAll(w, stack, [`${stack.bind.unique()}.example.test`]);
  return { ...w, name: name!, dir: await mkdtemp(join(tmpdir(), 'cv-metrics-')) };
}

test("renew --metrics-textfile and --metrics-push carry the run's values", async () => {
  const w = await world('ok');
  front.renewalInfo = () => ({ status: 404 });
  // The run must answer a challenge for the endpoint list below, so no authorization may be reused.
  await deactivateValidAuthorizations(w.store, front.directoryUrl, stack.pebble.caCertPem, w.name);
  pushes.length = 0;
  const file = join(w.dir, 'certvault.prom');
  const started = Date.now() / 1000;
  const r = await w.cli(
    'renew',
    '--force',
    '--json',
    '--metrics-textfile',
    file,
    '--metrics-push',
    `${gatewayUrl}/`,
  );
  assert.equal(r.code, 0, r.stderr);
  const text = await readFile(file, 'utf8');
  const f = parseProm(text);
  const now = await w.store.getCertificateSummary(w.name);
  assert.equal(
    valueOf(f, 'certvault_certificate_not_after_timestamp_seconds', { name: w.name }),
    now!.notAfter.getTime() / 1000,
    "the renewed certificate's expiry",
  );
  assert.equal(valueOf(f, 'certvault_renewal_attempts_total', { name: w.name }), 1);
  assert.equal(samplesOf(f, 'certvault_renewal_failures_total').length, 0);
  assert.ok(valueOf(f, 'certvault_next_renewal_timestamp_seconds', { name: w.name })! > Date.now() / 1000);
  assert.equal(valueOf(f, 'certvault_last_run_success'), 1);
  assert.ok(valueOf(f, 'certvault_last_run_timestamp_seconds')! >= Math.floor(started));

  const endpoints = new Set(
    samplesOf(f, 'certvault_acme_request_duration_seconds_count').map((s) => s.labels.endpoint),
  );
  for (const e of ['directory', 'newOrder', 'authz', 'challenge', 'finalize', 'certificate'])
    assert.ok(endpoints.has(e), `ACME endpoint ${e} in ${[...endpoints].join(',')}`);
  const operations = new Set(
    samplesOf(f, 'certvault_vault_request_duration_seconds_count').map((s) => s.labels.operation),
  );
  for (const o of ['read data', 'write data', 'list metadata', 'read metadata', 'read mounts'])
    assert.ok(operations.has(o), `Vault operation ${o} in ${[...operations].join(',')}`);
  const labelValues = [...f.values()].flatMap((fam) => fam.samples.flatMap((s) => Object.values(s.labels)));
  assert.ok(
    labelValues.every((v) => !v.includes('/') && !v.includes('http')),
    'no URLs or paths in labels',
  );

  assert.equal(pushes.length, 1);
  assert.equal(pushes[0]?.method, 'PUT');
  assert.equal(pushes[0]?.url, '/metrics/job/certvault');
  assert.match(pushes[0]!.type, /^text\/plain/);
  assert.equal(valueOf(parseProm(pushes[0]!.body), 'certvault_renewal_attempts_total', { name: w.name }), 1);
});

test('a refused renewal counts as a failure by problem type; a sealed Vault still writes the textfile', async (t) => {
  const w = await world('fail');
  front.renewalInfo = () => ({ status: 404 });
  const file = join(w.dir, 'certvault.prom');
  front.refuseOrders = {
    status: 429,
    type: 'rateLimited',
    detail: 'too many certificates',
    retryAfterSeconds: 3600,
  };
  try {
    const r = await w.cli('renew', '--force', '--metrics-textfile', file);
    assert.equal(r.code, 1);
  } finally {
    front.refuseOrders = undefined;
  }
  const f = parseProm(await readFile(file, 'utf8'));
  assert.equal(valueOf(f, 'certvault_renewal_failures_total', { name: w.name, type: 'rateLimited' }), 1);
  assert.equal(valueOf(f, 'certvault_last_run_success'), 0);
  assert.ok(
    valueOf(f, 'certvault_next_renewal_timestamp_seconds', { name: w.name })! >= Date.now() / 1000 + 3500,
    'next attempt honours Retry-After',
  );

  if (!vault.emulator) return t.skip('sealing needs the emulator');
  vault.emulator.seal();
  try {
    const sealed = await w.cli('renew', '--metrics-textfile', file);
    assert.equal(sealed.code, 1);
    assert.match(sealed.stderr, /sealed/);
  } finally {
    vault.emulator.unseal();
  }
  const g = parseProm(await readFile(file, 'utf8'));
  assert.equal(valueOf(g, 'certvault_last_run_success'), 0);
  assert.ok(
    samplesOf(g, 'certvault_vault_request_duration_seconds_count').some((s) => s.labels.status === '503'),
  );
});

test('bad metrics targets are usage errors before any work', async () => {
  const store = `file:${await mkdtemp(join(tmpdir(), 'cv-empty-'))}`;
  const txt = await runCli(['renew', '--metrics-textfile', '/tmp/metrics.txt'], { CERTVAULT_STORE: store });
  assert.equal(txt.code, 2);
  assert.match(txt.stderr, /only reads files ending in \.prom/);
  const url = await runCli(['renew', '--metrics-push', 'not a url'], { CERTVAULT_STORE: store });
  assert.equal(url.code, 2);
});

test('an unreachable Pushgateway is reported (exit 1), the renewal report still printed', async () => {
  const r = await runCli(['renew', '--json', '--metrics-push', 'http://127.0.0.1:9'], {
    CERTVAULT_STORE: `file:${await mkdtemp(join(tmpdir(), 'cv-empty-'))}`,
  });
  assert.equal(r.code, 1);
  assert.deepEqual(JSON.parse(r.stdout), []);
  assert.match(r.stderr, /metrics push failed: cannot push metrics to http:\/\/127\.0\.0\.1:9/);
});
