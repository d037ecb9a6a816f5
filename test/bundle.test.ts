// The build (scripts/bundle.mjs) ships dist/ without node_modules (the container image has none):
// the CLI must run from a copy of dist/ and package.json alone, including the lazily loaded parts.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testVault, type TestVault } from './support/vault.js';

const root = new URL('..', import.meta.url).pathname;
let v: TestVault;
let app: string;
before(async () => {
  v = await testVault();
  app = mkdtempSync(join(tmpdir(), 'certvault-bundle-'));
  cpSync(join(root, 'dist'), join(app, 'dist'), { recursive: true });
  cpSync(join(root, 'package.json'), join(app, 'package.json'));
});
after(async () => {
  rmSync(app, { recursive: true, force: true });
  await v.close();
});

/** Asynchronous, so that the in-process Vault emulator keeps answering. */
function run(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [join(app, 'dist/cli/main.js'), ...args],
      { cwd: app, env: { PATH: process.env.PATH ?? '', HOME: app, ...env } },
      (err, stdout, stderr) => resolve({ status: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

test('the bundled CLI runs without node_modules: version, help, Vault (undici), policy, local store', async () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  assert.equal((await run(['--version'])).stdout.trim(), pkg.version);
  assert.equal((await run(['issue', '--help'])).status, 0);
  const vaultEnv = {
    VAULT_ADDR: v.addr,
    VAULT_TOKEN: v.token,
    CERTVAULT_VAULT_MOUNT: v.mount,
    CERTVAULT_VAULT_PREFIX: v.prefix,
    ...(v.namespace ? { VAULT_NAMESPACE: v.namespace } : {}),
  };
  for (const args of [
    ['list', '--json'],
    ['renew', '--json'],
    ['doctor', '--json'],
    ['policy', 'renewer'],
  ]) {
    const r = await run(args, vaultEnv);
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
  }
  const local = await run(['list', '--json', '--store', `file:${join(app, 'state')}`]);
  assert.equal(local.status, 0, local.stderr);
  assert.deepEqual(JSON.parse(local.stdout), []);
});
