// Test-facing Vault: a real Vault/OpenBao when CERTVAULT_TEST_VAULT_ADDR and CERTVAULT_TEST_VAULT_TOKEN
// are set, otherwise a fresh emulator. Every call gets its own key prefix so tests never collide.
import { randomBytes } from 'node:crypto';
import { VaultEmulator, type VaultEmulatorOptions } from './vault-emulator.js';

export interface TestVault {
  /** Base address without trailing slash, e.g. `http://127.0.0.1:41234`. */
  addr: string;
  token: string;
  /** A KV v2 mount path without slashes (default `secret`). */
  mount: string;
  /** A KV v1 mount, when one is available (always with the emulator). */
  kv1Mount?: string;
  /** Namespace to send as X-Vault-Namespace (real servers only, from CERTVAULT_TEST_VAULT_NAMESPACE). */
  namespace?: string;
  /** Unique per call (`cvtest-<hex>`): write only below `<mount>/data/<prefix>/`. */
  prefix: string;
  /** The emulator, or undefined against a real server (tests needing faults or ACL setup must skip). */
  emulator?: VaultEmulator;
  /** Stops the emulator, or deletes everything under the prefix on a real server. */
  close(): Promise<void>;
}

const trim = (s: string): string => s.replace(/^\/+|\/+$/g, '');
const encodePath = (p: string): string => p.split('/').map(encodeURIComponent).join('/');

async function cleanupReal(v: TestVault): Promise<void> {
  const headers: Record<string, string> = { 'X-Vault-Token': v.token, 'X-Vault-Request': 'true' };
  if (v.namespace) headers['X-Vault-Namespace'] = v.namespace;
  const call = async (method: string, path: string): Promise<unknown> => {
    const res = await fetch(`${v.addr}/v1/${encodePath(path)}${method === 'LIST' ? '?list=true' : ''}`, {
      method: method === 'LIST' ? 'GET' : method,
      headers,
    });
    if (res.status === 404) return undefined;
    if (!res.ok) throw new Error(`test vault cleanup: ${method} ${path} answered ${res.status}`);
    return res.status === 204 ? undefined : res.json();
  };
  const keysOf = async (path: string): Promise<string[]> => {
    const body = (await call('LIST', path)) as { data?: { keys?: string[] } } | undefined;
    return body?.data?.keys ?? [];
  };
  // KV v2: deleting metadata removes every version of a key.
  const walkV2 = async (folder: string): Promise<void> => {
    for (const k of await keysOf(`${v.mount}/metadata/${folder}`)) {
      if (k.endsWith('/')) await walkV2(`${folder}${k}`);
      else await call('DELETE', `${v.mount}/metadata/${folder}${k}`);
    }
  };
  await walkV2(`${v.prefix}/`);
  await call('DELETE', `${v.mount}/metadata/${v.prefix}`);
  const kv1 = v.kv1Mount;
  if (kv1) {
    const walkV1 = async (folder: string): Promise<void> => {
      for (const k of await keysOf(`${kv1}/${folder}`)) {
        if (k.endsWith('/')) await walkV1(`${folder}${k}`);
        else await call('DELETE', `${kv1}/${folder}${k}`);
      }
    };
    await walkV1(`${v.prefix}/`);
    await call('DELETE', `${kv1}/${v.prefix}`);
  }
}

/**
 * A Vault for one test file or test. Starting an emulator takes a few milliseconds; `options` only
 * apply to the emulator (a real server is used as it is).
 */
export async function testVault(options: VaultEmulatorOptions = {}): Promise<TestVault> {
  const prefix = `cvtest-${randomBytes(6).toString('hex')}`;
  const addr = process.env.CERTVAULT_TEST_VAULT_ADDR;
  const token = process.env.CERTVAULT_TEST_VAULT_TOKEN;
  if (addr && token) {
    const kv1 = process.env.CERTVAULT_TEST_VAULT_KV1_MOUNT;
    const ns = process.env.CERTVAULT_TEST_VAULT_NAMESPACE;
    const v: TestVault = {
      addr: addr.replace(/\/+$/, ''),
      token,
      mount: trim(process.env.CERTVAULT_TEST_VAULT_MOUNT || 'secret'),
      ...(kv1 ? { kv1Mount: trim(kv1) } : {}),
      ...(ns ? { namespace: trim(ns) } : {}),
      prefix,
      close: () => cleanupReal(v),
    };
    return v;
  }
  const emulator = await VaultEmulator.start({
    mounts: [
      { path: 'secret', version: 2 },
      { path: 'kv1', version: 1 },
    ],
    ...options,
  });
  return {
    addr: emulator.addr,
    token: emulator.rootToken,
    mount: 'secret',
    kv1Mount: 'kv1',
    prefix,
    emulator,
    close: () => emulator.close(),
  };
}
