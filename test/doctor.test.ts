// `certvault doctor`: each problem on one line with its fix, exit 1 when something blocks use.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { runCli } from './support/cli.js';
import { testVault, type TestVault } from './support/vault.js';

let v: TestVault;
before(async () => {
  v = await testVault();
});
after(async () => {
  await v?.close();
});

interface Doctor {
  ok: boolean;
  checks: { name: string; ok: boolean; warning?: boolean; detail: string; fix?: string }[];
}

async function doctor(env: Record<string, string>): Promise<{ code: number | null; out: Doctor }> {
  const r = await runCli(['doctor', '--json'], {
    CERTVAULT_VAULT_MOUNT: v.mount,
    CERTVAULT_VAULT_PREFIX: v.prefix,
    ...(v.namespace ? { VAULT_NAMESPACE: v.namespace } : {}),
    ...env,
  });
  return { code: r.code, out: JSON.parse(r.stdout) as Doctor };
}

/** A 127.0.0.1 port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

test('a healthy Vault: health, token, KV v2 and every workflow pass', async () => {
  const { code, out } = await doctor({ VAULT_ADDR: v.addr, VAULT_TOKEN: v.token });
  assert.equal(code, 0);
  assert.ok(out.ok);
  const names = out.checks.map((c) => c.name);
  for (const n of ['store', 'vault', 'auth', 'kv', 'can issue', 'can renew', 'can list'])
    assert.ok(names.includes(n), `${n} in ${names.join(', ')}`);
  assert.ok(out.checks.every((c) => c.ok));
});

test('an unreachable Vault names the address and the cause, and fails', async () => {
  const addr = `http://127.0.0.1:${await closedPort()}`;
  const { code, out } = await doctor({ VAULT_ADDR: addr, VAULT_TOKEN: 'x' });
  assert.equal(code, 1);
  const store = out.checks.find((c) => c.name === 'store')!;
  assert.equal(store.ok, false);
  assert.ok(store.detail.includes(addr), store.detail);
  assert.match(store.detail, /ECONNREFUSED|refused/);
  assert.ok(store.fix);
});

test('a rejected token fails with a fix', async () => {
  const { code, out } = await doctor({ VAULT_ADDR: v.addr, VAULT_TOKEN: 'not-a-token' });
  assert.equal(code, 1);
  const failed = out.checks.filter((c) => !c.ok && !c.warning);
  assert.ok(failed.length > 0);
  assert.ok(
    failed.every((c) => c.fix),
    JSON.stringify(failed),
  );
});

test('a KV v1 mount is a warning, not a failure', async (t) => {
  if (!v.kv1Mount) return t.skip('no KV v1 mount');
  const { code, out } = await doctor({
    VAULT_ADDR: v.addr,
    VAULT_TOKEN: v.token,
    CERTVAULT_VAULT_MOUNT: v.kv1Mount,
  });
  assert.equal(code, 0);
  const kv = out.checks.find((c) => c.name === 'kv')!;
  assert.equal(kv.warning, true);
  assert.match(kv.detail, /KV v1/);
  assert.match(kv.fix ?? '', /kv-v2/);
});

test('a sealed Vault is named as sealed, with the fix', async (t) => {
  const emu = v.emulator;
  if (!emu) return t.skip('needs the emulator (seal)');
  emu.seal();
  t.after(() => emu.unseal());
  const { code, out } = await doctor({ VAULT_ADDR: v.addr, VAULT_TOKEN: v.token });
  assert.equal(code, 1);
  const failed = out.checks.filter((c) => !c.ok);
  assert.ok(failed.length > 0);
  assert.ok(
    failed.some((c) => /sealed/.test(c.detail) && /unseal/i.test(c.fix ?? '')),
    JSON.stringify(failed),
  );
});

test('a mount that does not exist is named, with --vault-mount as the fix', async () => {
  const env = { VAULT_ADDR: v.addr, VAULT_TOKEN: v.token, CERTVAULT_VAULT_MOUNT: 'no-such-mount' };
  const { code, out } = await doctor(env);
  assert.equal(code, 1);
  const store = out.checks.find((c) => c.name === 'store')!;
  assert.equal(store.ok, false);
  assert.match(store.detail, /no mount "no-such-mount"/);
  const list = await runCli(['list'], { CERTVAULT_VAULT_PREFIX: v.prefix, ...env });
  assert.equal(list.code, 1, list.stderr);
  assert.equal(list.stderr.trim().split('\n').length, 1, list.stderr);
  assert.match(list.stderr, /Vault denied GET .*: no mount "no-such-mount", .*--vault-mount/);
});
