import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VaultClient } from '../src/vault/client.js';
import { VaultError } from '../src/vault/errors.js';
import { kvFor } from '../src/vault/kv.js';
import { runCli } from './support/cli.js';
import { testVault, type TestVault } from './support/vault.js';

let v: TestVault;
let tmp: string;
before(async () => {
  v = await testVault({ faultSeed: 20240611 });
  tmp = await mkdtemp(join(tmpdir(), 'certvault-retries-'));
});
after(async () => {
  await v.close();
  await rm(tmp, { recursive: true, force: true });
});

const clients: VaultClient[] = [];
after(async () => {
  await Promise.all(clients.map((c) => c.close()));
});
const client = (over: Partial<ConstructorParameters<typeof VaultClient>[0]> = {}) => {
  const c = new VaultClient({
    addr: v.addr,
    token: () => v.token,
    namespace: v.namespace,
    retryBaseMs: 5,
    ...over,
  });
  clients.push(c);
  return c;
};

/** Emulator log entries for one method and logical path, from index `from` on. */
const logged = (method: string, path: string, from = 0) =>
  v.emulator!.requests.slice(from).filter((r) => r.method === method && r.path === path);

/** Writes one KV v2 secret without any faults in place, returns its logical data path. */
async function seed(name: string, data: Record<string, string>): Promise<string> {
  await kvFor(client(), v.mount, 2).write(`${v.prefix}/${name}`, data);
  return `${v.mount}/data/${v.prefix}/${name}`;
}

test('a 429 answer to a share of GETs is retried until the read succeeds', async (t) => {
  const emu = v.emulator;
  if (!emu) return t.skip('needs the Vault emulator (fault injection)');
  const path = await seed('r429', { a: '1' });
  const fault = emu.addFault({ method: 'GET', path, status: 429, ratio: 0.4 });
  t.after(fault);
  const c = client({ maxRetries: 10 });
  const from = emu.requests.length;
  const reads = 25;
  for (let i = 0; i < reads; i++) {
    const res = await c.request({ method: 'GET', path });
    assert.equal(res.status, 200);
    assert.deepEqual((res.body as { data: { data: unknown } }).data.data, { a: '1' });
  }
  const seen = logged('GET', path, from);
  const throttled = seen.filter((r) => r.status === 429).length;
  assert.ok(fault.fired > 0, 'the fault fired at least once');
  assert.equal(throttled, fault.fired);
  assert.equal(seen.filter((r) => r.status === 200).length, reads);
  assert.equal(c.requestCount, reads + throttled, 'every 429 cost exactly one extra attempt');
});

test('a dropped connection on a GET is retried', async (t) => {
  const emu = v.emulator;
  if (!emu) return t.skip('needs the Vault emulator (fault injection)');
  const path = await seed('drop', { b: '2' });
  const fault = emu.addFault({ method: 'GET', path, dropConnection: true, count: 2 });
  t.after(fault);
  const c = client();
  const from = emu.requests.length;
  const res = await c.request({ method: 'GET', path });
  assert.equal(res.status, 200);
  assert.deepEqual((res.body as { data: { data: unknown } }).data.data, { b: '2' });
  assert.equal(fault.fired, 2);
  assert.deepEqual(
    logged('GET', path, from).map((r) => r.status),
    [0, 0, 200],
  );
});

test('a dropped connection on a POST is not retried (it may have taken effect)', async (t) => {
  const emu = v.emulator;
  if (!emu) return t.skip('needs the Vault emulator (fault injection)');
  const path = `${v.mount}/data/${v.prefix}/drop-post`;
  const fault = emu.addFault({ method: 'POST', path, dropConnection: true, count: 1 });
  t.after(fault);
  const c = client();
  const from = emu.requests.length;
  await assert.rejects(
    c.request({ method: 'POST', path, body: { data: { c: '3' } } }),
    (err: Error) => err.message.includes(`cannot reach Vault at ${v.addr}`) && err.message.includes(path),
  );
  assert.equal(logged('POST', path, from).length, 1);
  assert.equal(c.requestCount, 1);
});

test('a GET to a server slower than timeoutMs fails naming the address and the timeout', async (t) => {
  const emu = v.emulator;
  if (!emu) return t.skip('needs the Vault emulator (fault injection)');
  const path = await seed('slow', { d: '4' });
  const timeoutMs = 300;
  const fault = emu.addFault({ method: 'GET', path, latencyMs: 2500 });
  t.after(fault);

  // No retries: fails after about one timeout.
  const once = client({ timeoutMs, maxRetries: 0 });
  const t0 = performance.now();
  await assert.rejects(once.request({ method: 'GET', path }), (err: Error) => {
    assert.match(err.message, /cannot reach Vault at /);
    assert.ok(err.message.includes(v.addr), err.message);
    assert.ok(err.message.includes(`no answer within ${timeoutMs} ms`), err.message);
    assert.ok(err.message.includes(`GET ${path}`), err.message);
    return true;
  });
  const elapsed = performance.now() - t0;
  assert.ok(elapsed >= timeoutMs * 0.9, `gave up after ${Math.round(elapsed)} ms, before the timeout`);
  // The client's own deadline, not undici's coarse timer (which fires up to ~1.2 s late).
  assert.ok(elapsed < timeoutMs + 400, `gave up after ${Math.round(elapsed)} ms, past the timeout`);
  assert.equal(once.requestCount, 1);

  // With retries, a timed-out GET (idempotent) is attempted again, each attempt timing out.
  const retried = client({ timeoutMs, maxRetries: 2 });
  const t1 = performance.now();
  await assert.rejects(retried.request({ method: 'GET', path }), /no answer within 300 ms/);
  assert.equal(retried.requestCount, 3);
  assert.ok(performance.now() - t1 >= 3 * timeoutMs * 0.9);
});

test('a POST answered 500 is not retried, a GET answered 500 is', async (t) => {
  const emu = v.emulator;
  if (!emu) return t.skip('needs the Vault emulator (fault injection)');
  const path = await seed('five-hundred', { e: '5' });

  const post = emu.addFault({ method: 'POST', path, status: 500, count: 3 });
  t.after(post);
  const c = client();
  let from = emu.requests.length;
  await assert.rejects(
    c.request({ method: 'POST', path, body: { data: { e: '6' } } }),
    (err) => err instanceof VaultError && err.status === 500 && err.message.includes(`POST ${path}`),
  );
  assert.deepEqual(
    logged('POST', path, from).map((r) => r.status),
    [500],
  );
  assert.equal(post.fired, 1);
  post();

  const get = emu.addFault({ method: 'GET', path, status: 500, count: 2 });
  t.after(get);
  from = emu.requests.length;
  const res = await c.request({ method: 'GET', path });
  assert.equal(res.status, 200);
  // The failed POST changed nothing.
  assert.deepEqual((res.body as { data: { data: unknown } }).data.data, { e: '5' });
  assert.deepEqual(
    logged('GET', path, from).map((r) => r.status),
    [500, 500, 200],
  );

  // And a GET that keeps failing stops after maxRetries + 1 attempts.
  const always = emu.addFault({ method: 'GET', path, status: 500 });
  t.after(always);
  const limited = client({ maxRetries: 3 });
  from = emu.requests.length;
  await assert.rejects(
    limited.request({ method: 'GET', path }),
    (err) => err instanceof VaultError && err.status === 500,
  );
  assert.equal(logged('GET', path, from).length, 4);
});

test('a POST answered 429 is retried (the request surely had no effect)', async (t) => {
  const emu = v.emulator;
  if (!emu) return t.skip('needs the Vault emulator (fault injection)');
  const path = `${v.mount}/data/${v.prefix}/post-429`;
  const fault = emu.addFault({ method: 'POST', path, status: 429, count: 2 });
  t.after(fault);
  const c = client();
  const from = emu.requests.length;
  const res = await c.request({ method: 'POST', path, body: { data: { f: '7' } } });
  assert.equal(res.status, 200);
  assert.deepEqual(
    logged('POST', path, from).map((r) => r.status),
    [429, 429, 200],
  );
  assert.deepEqual((await kvFor(client(), v.mount, 2).read(`${v.prefix}/post-429`))?.data, { f: '7' });
});

// ---- CLI: where the token comes from ----

/** Env for `certvault list` against the test Vault, without VAULT_TOKEN. */
function cliVaultEnv(home: string): Record<string, string | undefined> {
  return {
    HOME: home,
    VAULT_ADDR: v.addr,
    VAULT_TOKEN: undefined,
    VAULT_NAMESPACE: v.namespace,
    CERTVAULT_VAULT_MOUNT: v.mount,
    CERTVAULT_VAULT_PREFIX: v.prefix,
    XDG_DATA_HOME: join(home, 'xdg-unused'),
  };
}

test('CLI: the token is read from ~/.vault-token when VAULT_TOKEN is unset', async () => {
  const home = join(tmp, 'home-token');
  await mkdir(home, { recursive: true });
  // Control: without any token source Vault refuses.
  const denied = await runCli(['list', '--json'], cliVaultEnv(home));
  assert.notEqual(denied.code, 0, `no token should fail: ${denied.stderr}`);

  await writeFile(join(home, '.vault-token'), `${v.token}\n`, { mode: 0o600 });
  const from = v.emulator?.requests.length ?? 0;
  const res = await runCli(['list', '--json'], cliVaultEnv(home));
  assert.equal(res.code, 0, res.stderr);
  assert.ok(Array.isArray(JSON.parse(res.stdout)), res.stdout);
  if (v.emulator) {
    const seen = v.emulator.requests.slice(from);
    assert.ok(seen.length > 0, 'the CLI talked to the emulator');
    assert.ok(
      seen.every((r) => r.status < 400 || r.status === 404),
      JSON.stringify(seen),
    );
  }
  // No local store was created: the Vault address decided the store.
  await assert.rejects(stat(join(home, 'xdg-unused', 'certvault')), { code: 'ENOENT' });
});

test('CLI: CERTVAULT_VAULT_TOKEN_FILE and --vault-token-file name a token file', async () => {
  const home = join(tmp, 'home-token-file');
  await mkdir(home, { recursive: true });
  const file = join(tmp, 'agent-sink-token');
  await writeFile(file, `${v.token}\n`, { mode: 0o600 });
  const viaEnv = await runCli(['list', '--json'], {
    ...cliVaultEnv(home),
    CERTVAULT_VAULT_TOKEN_FILE: file,
  });
  assert.equal(viaEnv.code, 0, viaEnv.stderr);
  assert.ok(Array.isArray(JSON.parse(viaEnv.stdout)));

  const viaFlag = await runCli(['list', '--json', '--vault-token-file', file], cliVaultEnv(home));
  assert.equal(viaFlag.code, 0, viaFlag.stderr);

  // The file wins over ~/.vault-token: a bad token there must not matter, a missing file must.
  await writeFile(join(home, '.vault-token'), 'not-a-real-token\n');
  const wins = await runCli(['list', '--json'], { ...cliVaultEnv(home), CERTVAULT_VAULT_TOKEN_FILE: file });
  assert.equal(wins.code, 0, wins.stderr);
  const missing = join(tmp, 'no-such-token-file');
  const gone = await runCli(['list', '--json'], {
    ...cliVaultEnv(home),
    CERTVAULT_VAULT_TOKEN_FILE: missing,
  });
  assert.notEqual(gone.code, 0);
  assert.ok(gone.stderr.includes(missing), gone.stderr);
});

// ---- CLI: the implicit local store ----

const NOTICE =
  /^certvault: no Vault address configured, keeping state in (.+) \(set VAULT_ADDR or --store to change\)$/m;

test('CLI: without a Vault address, list uses the local store under XDG_DATA_HOME and says so', async () => {
  const home = join(tmp, 'home-local');
  const xdg = join(tmp, 'xdg-data');
  await mkdir(home, { recursive: true });
  const env = {
    HOME: home,
    XDG_DATA_HOME: xdg,
    VAULT_ADDR: undefined,
    BAO_ADDR: undefined,
    CERTVAULT_STORE: undefined,
    CERTVAULT_HOME: undefined,
  };
  const res = await runCli(['list'], env);
  assert.equal(res.code, 0, res.stderr);
  const notices = res.stderr.split('\n').filter((l) => NOTICE.test(l));
  assert.equal(notices.length, 1, res.stderr);
  const where = NOTICE.exec(notices[0]!)![1];
  assert.equal(where, join(xdg, 'certvault'));
  const st = await stat(where!);
  assert.ok(st.isDirectory());
  assert.equal(st.mode & 0o777, 0o700);
  // Nothing went to HOME's default location.
  await assert.rejects(stat(join(home, '.local', 'share', 'certvault')), { code: 'ENOENT' });

  // A second run reuses the folder and still names it.
  const again = await runCli(['list', '--json'], env);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(JSON.parse(again.stdout), []);
  assert.match(again.stderr, NOTICE);
});

test('CLI: without XDG_DATA_HOME the local store goes to ~/.local/share/certvault', async () => {
  const home = join(tmp, 'home-local-default');
  await mkdir(home, { recursive: true });
  const res = await runCli(['list'], {
    HOME: home,
    XDG_DATA_HOME: undefined,
    VAULT_ADDR: undefined,
    CERTVAULT_STORE: undefined,
    CERTVAULT_HOME: undefined,
  });
  assert.equal(res.code, 0, res.stderr);
  const expected = join(home, '.local', 'share', 'certvault');
  assert.equal(NOTICE.exec(res.stderr)?.[1], expected);
  assert.equal((await stat(expected)).mode & 0o777, 0o700);
});

test('a sealed Vault is waited out: a read and a write made while sealed succeed once it is unsealed', async (t) => {
  const emu = v.emulator;
  if (!emu) return t.skip('needs the Vault emulator (seal)');
  const path = await seed('sealed', { s: '1' });
  const c = client({ retryBaseMs: 100, maxRetries: 6 });
  const kv = kvFor(c, v.mount, 2);
  emu.seal();
  t.after(() => emu.unseal());
  const from = emu.requests.length;
  setTimeout(() => emu.unseal(), 400);
  const [read, version] = await Promise.all([
    c.request({ method: 'GET', path }),
    kv.write(`${v.prefix}/sealed`, { s: '2' }, { cas: 1 }),
  ]);
  assert.equal(read.status, 200);
  assert.equal(version, 2, 'the write was made once, after the unseal');
  assert.ok(logged('GET', path, from).length >= 2, 'the read was refused while sealed, then repeated');
  assert.ok(logged('POST', path, from).length >= 2, 'the write too (a sealed Vault has not applied it)');
});

test('a standby with no active node is waited out; a standby with one redirects there (307)', async (t) => {
  const emu = v.emulator;
  if (!emu) return t.skip('needs the Vault emulator (standby)');
  const path = await seed('standby', { s: '1' });
  const c = client({ retryBaseMs: 100, maxRetries: 6 });
  emu.setStandby(true);
  t.after(() => emu.setStandby(false));
  setTimeout(() => emu.setStandby(false), 300);
  assert.equal((await c.request({ method: 'GET', path })).status, 200);

  // This node turns standby and sends clients to the active one (here an emulator of its own).
  const active = await testVault();
  t.after(() => active.close());
  const activePath = `${active.mount}/data/${active.prefix}/x`;
  const onActive = new VaultClient({
    addr: active.addr,
    token: () => active.token,
    namespace: active.namespace,
  });
  clients.push(onActive);
  await kvFor(onActive, active.mount, 2).write(`${active.prefix}/x`, { where: 'active' });
  emu.setStandby(true, active.addr);
  const viaStandby = client({ token: () => active.token });
  const res = await viaStandby.request({ method: 'GET', path: activePath });
  assert.equal((res.body as { data: { data: { where: string } } }).data.data.where, 'active');
  const written = await kvFor(viaStandby, active.mount, 2).write(
    `${active.prefix}/x`,
    { where: 'written' },
    { cas: 1 },
  );
  assert.equal(written, 2, 'a write follows the 307 with its body');
});
