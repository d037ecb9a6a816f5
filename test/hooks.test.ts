import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { postWebhook, runShell } from '../src/core/hooks.js';
import { runCli } from './support/cli.js';
import { openWorld, issueAll, type World } from './support/world.js';
import { startStack, type Stack } from './support/stack.js';
import { startAcmeFront, type AcmeFront } from './support/acme-front.js';
import { testVault, type TestVault } from './support/vault.js';

/** Running (not gone, not a zombie waiting for a reaper that a container's PID 1 may never be). */
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

// ---- the hook runner and the webhook sender on their own -------------------------------------------

test('runShell: environment, exit status, and a timeout that kills the whole process group', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cv-hooks-'));
  const ok = await runShell(`echo "$CERTVAULT_NAME" > ${dir}/name`, {
    env: { CERTVAULT_NAME: 'a.example' },
    timeoutMs: 5000,
  });
  assert.deepEqual(ok, { ok: true, detail: 'exit 0' });
  assert.equal(await readFile(join(dir, 'name'), 'utf8'), 'a.example\n');
  assert.deepEqual(await runShell('exit 4', { env: {}, timeoutMs: 5000 }), { ok: false, detail: 'exit 4' });

  // A child in the background and a shell that ignores SIGTERM: both are gone after the timeout.
  const started = Date.now();
  const hung = await runShell(`trap '' TERM; sleep 60 & echo $! > ${dir}/pid; wait; wait`, {
    env: {},
    timeoutMs: 500,
  });
  assert.equal(hung.ok, false);
  assert.match(hung.detail, /killed after the 0\.5s timeout/);
  assert.ok(Date.now() - started < 5000, 'SIGKILL follows after a short grace');
  const pid = Number(await readFile(join(dir, 'pid'), 'utf8'));
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(alive(pid), false, 'the background child was killed too');
});

test('postWebhook: 2xx ok; error status, timeout and refused connection fail without showing the URL', async () => {
  const bodies: string[] = [];
  let status = 204;
  let delay = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      bodies.push(body);
      setTimeout(() => res.writeHead(status).end(), delay);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook?token=S3CRET`;
  const event = { event: 'renewed' as const, name: 'a', domains: ['a'], notAfter: null, reason: null };
  try {
    assert.deepEqual(await postWebhook(url, event, 2000), { ok: true, detail: 'HTTP 204' });
    assert.deepEqual(JSON.parse(bodies[0] as string), event);
    status = 500;
    const failed = await postWebhook(url, event, 2000);
    assert.equal(failed.ok, false);
    assert.match(failed.detail, /answered HTTP 500/);
    status = 200;
    delay = 1000;
    const slow = await postWebhook(url, event, 200);
    assert.match(slow.detail, /no answer from http:\/\/127\.0\.0\.1:\d+ within 0\.2s/);
    for (const r of [failed, slow]) assert.ok(!r.detail.includes('S3CRET'));
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
  const refused = await postWebhook(url, event, 2000);
  assert.match(refused.detail, /cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
});

// ---- end to end: renew with hooks and a webhook ----------------------------------------------------

let stack: Stack;
let front: AcmeFront;
let vault: TestVault;
let hookServer: Server;
let hookUrl = '';
const received: Record<string, unknown>[] = [];
const receivedRaw: string[] = [];

before(async () => {
  stack = await startStack();
  front = await startAcmeFront(stack.pebble.directoryUrl, stack.pebble.caCertPem);
  vault = await testVault();
  hookServer = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      receivedRaw.push(body);
      received.push({
        ...(JSON.parse(body) as Record<string, unknown>),
        contentType: req.headers['content-type'],
      });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => hookServer.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(hookServer.address() as { port: number }).port}/certs?token=HOOKTOKEN`;
});
after(async () => {
  hookServer?.closeAllConnections();
  await new Promise((r) => hookServer?.close(r));
  await vault?.close();
  await front?.stop();
  await stack?.stop();
});

interface HookWorld extends World {
  dir: string;
}

async function world(label: string): Promise<HookWorld> {
  return {
    ...(await openWorld(stack, vault, label, front.directoryUrl)),
    dir: await mkdtemp(join(tmpdir(), 'cv-hooks-e2e-')),
  };
}

function issueWithHooks(w: World, hooks: (string | undefined)[]): Promise<string[]> {
  const names = hooks.map(() => `${stack.bind.unique()}.example.test`);
  return issueAll(w, stack, names, (d) => ({
    domains: [d, `www.${d}`],
    deployHook: hooks[names.indexOf(d)],
  }));
}

interface Entry {
  name: string;
  outcome: string;
  hook?: string;
  reason?: string;
}

test('issue --deploy-hook keeps the hook in the parameters and runs it at once', async () => {
  const w = await world('issue-hook');
  const d = `${stack.bind.unique()}.example.test`;
  const out = join(w.dir, 'issued');
  const r = await w.cli(
    'issue',
    '-d',
    d,
    '--dns',
    'bind',
    '--json',
    '--deploy-hook',
    `echo "$CERTVAULT_NAME $CERTVAULT_VAULT_PATH" > ${out}`,
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).hook, 'ok');
  assert.equal(await readFile(out, 'utf8'), `${d} ${w.prefix}/certificates/${d}\n`);
  assert.equal(
    (await w.store.getParams(d))?.value.deployHook,
    `echo "$CERTVAULT_NAME $CERTVAULT_VAULT_PATH" > ${out}`,
  );

  const failing = await w.cli(
    'issue',
    '-d',
    `${stack.bind.unique()}.example.test`,
    '--dns',
    'bind',
    '--deploy-hook',
    'exit 9',
  );
  assert.equal(failing.code, 1, 'stored but not deployed');
  assert.match(failing.stdout, /issued .*; hook: failed: deploy hook exit 9/);
});

test('renew: hooks get the right environment; a failing or hanging hook is reported and not fatal to the others; webhook on success', async () => {
  const w = await world('renew-hooks');
  front.renewalInfo = () => ({ status: 404 });
  const dir = w.dir;
  const [failing, hanging, good] = await issueWithHooks(w, [
    'echo failing >&2; exit 3',
    `sleep 60 & echo $! > ${dir}/hung.pid; wait`,
    `env | grep ^CERTVAULT_ | sort > ${dir}/good.env`,
  ]);
  received.length = 0;
  receivedRaw.length = 0;
  const globalHook = `echo "$CERTVAULT_NAME|$CERTVAULT_DOMAINS|$CERTVAULT_VAULT_PATH" >> ${dir}/global.log`;
  const started = Date.now();
  const r = await w.cli(
    'renew',
    '--force',
    '--json',
    '--hook-timeout',
    '2',
    '--deploy-hook',
    globalHook,
    '--webhook',
    hookUrl,
  );
  assert.equal(r.code, 1, 'a failed hook makes the run exit 1');
  const entries = JSON.parse(r.stdout) as Entry[];
  const byName = new Map(entries.map((e) => [e.name, e]));
  for (const n of [failing, hanging, good])
    assert.equal(byName.get(n!)?.outcome, 'renewed', `${n} renewed whatever its hook did`);
  assert.match(byName.get(failing!)!.hook!, /^failed: deploy hook exit 3$/);
  assert.match(byName.get(hanging!)!.hook!, /^failed: deploy hook killed after the 2s timeout$/);
  assert.equal(byName.get(good!)!.hook, 'ok');
  assert.ok(Date.now() - started < 60_000);
  const pid = Number(await readFile(join(dir, 'hung.pid'), 'utf8'));
  assert.equal(alive(pid), false, "the hanging hook's child was killed with its group");
  assert.match(r.stderr, /deploy hook failed: exit 3/, 'failures are logged');

  // The certificate's own hook ran with the documented environment.
  const env = await readFile(join(dir, 'good.env'), 'utf8');
  assert.match(env, new RegExp(`^CERTVAULT_DOMAINS=${good} www\\.${good}$`, 'm'));
  assert.match(env, new RegExp(`^CERTVAULT_NAME=${good}$`, 'm'));
  assert.match(env, new RegExp(`^CERTVAULT_VAULT_PATH=${w.prefix}/certificates/${good}$`, 'm'));
  // The global hook ran for all three, after each one's own hook.
  const global = (await readFile(join(dir, 'global.log'), 'utf8')).trim().split('\n').sort();
  assert.deepEqual(
    global,
    [failing, hanging, good].map((n) => `${n}|${n} www.${n}|${w.prefix}/certificates/${n}`).sort(),
  );

  // The webhook got one JSON event per renewal, with facts only.
  assert.equal(received.length, 3);
  for (const ev of received) {
    assert.equal(ev.event, 'renewed');
    assert.equal(ev.contentType, 'application/json');
    assert.ok(Date.parse(ev.notAfter as string) > Date.now());
    assert.deepEqual(ev.domains, [ev.name, `www.${ev.name as string}`]);
  }
  for (const raw of receivedRaw)
    assert.ok(
      !raw.includes('PRIVATE KEY') &&
        !raw.includes('BEGIN') &&
        !raw.includes(vault.token) &&
        !raw.includes('HOOKTOKEN'),
      raw,
    );
  assert.ok(
    !r.stdout.includes('HOOKTOKEN') && !r.stderr.includes('HOOKTOKEN'),
    'the webhook URL never appears',
  );
});

test('renew: webhook on failure, hooks not run; an unreachable webhook is reported, the renewal stands', async () => {
  const w = await world('renew-webhook-fail');
  front.renewalInfo = () => ({ status: 404 });
  const [name] = await issueWithHooks(w, [`echo ran >> ${w.dir}/ran.log`]);
  received.length = 0;
  front.refuseOrders = {
    status: 429,
    type: 'rateLimited',
    detail: 'too many certificates already issued',
    retryAfterSeconds: 3600,
  };
  try {
    const r = await w.cli('renew', '--force', '--json', '--webhook', hookUrl);
    assert.equal(r.code, 1);
    const [e] = JSON.parse(r.stdout) as Entry[];
    assert.equal(e?.outcome, 'failed');
    assert.equal(e?.hook, 'ok', 'the webhook itself worked');
    assert.equal(received.length, 1);
    assert.equal(received[0]?.event, 'failed');
    assert.equal(received[0]?.name, name);
    assert.match(received[0]?.reason as string, /rateLimited/);
    await assert.rejects(
      readFile(join(w.dir, 'ran.log')),
      'deploy hooks run only after a successful renewal',
    );
  } finally {
    front.refuseOrders = undefined;
  }

  await w.store.putState(name!, { failures: 0 });
  const dead = 'http://127.0.0.1:9/x?token=DEADTOKEN';
  const r = await w.cli('renew', '--force', '--json', '--webhook', dead);
  assert.equal(r.code, 1);
  const [e] = JSON.parse(r.stdout) as Entry[];
  assert.equal(e?.outcome, 'renewed');
  assert.match(e!.hook!, /^failed: webhook cannot reach http:\/\/127\.0\.0\.1:9/);
  assert.ok(!r.stdout.includes('DEADTOKEN') && !r.stderr.includes('DEADTOKEN'));
  assert.equal((await readFile(join(w.dir, 'ran.log'), 'utf8')).trim(), 'ran');
});

test('bad hook options are usage errors before any work', async () => {
  const r = await runCli(['renew', '--webhook', 'ftp://x/?token=T0K'], {
    CERTVAULT_STORE: 'file:/nonexistent-cv',
  });
  assert.equal(r.code, 2);
  assert.ok(!r.stderr.includes('T0K'));
  const t = await runCli(['renew', '--hook-timeout', '0'], { CERTVAULT_STORE: 'file:/nonexistent-cv' });
  assert.equal(t.code, 2);
});
