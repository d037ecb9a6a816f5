// Identities for least-privilege tests: policies written and tokens created through Vault's own API,
// so the same helpers work against the emulator and a real Vault/OpenBao (CERTVAULT_TEST_VAULT_ADDR).
import type { TestVault } from './vault.js';

async function call(
  v: TestVault,
  method: string,
  path: string,
  body?: unknown,
  token = v.token,
): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = { 'X-Vault-Token': token, 'X-Vault-Request': 'true' };
  if (v.namespace) headers['X-Vault-Namespace'] = v.namespace;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`${v.addr}/v1/${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : null };
}

/** Writes an ACL policy (`sys/policies/acl/<name>`); throws when Vault refuses it (e.g. bad HCL). */
export async function writePolicy(v: TestVault, name: string, policy: string): Promise<void> {
  const res = await call(v, 'PUT', `sys/policies/acl/${name}`, { policy });
  if (res.status >= 300) throw new Error(`writing policy ${name}: ${res.status} ${JSON.stringify(res.body)}`);
}

export async function deletePolicy(v: TestVault, name: string): Promise<void> {
  await call(v, 'DELETE', `sys/policies/acl/${name}`);
}

/** A token carrying only `policies` (plus Vault's `default`), as `vault token create -policy=…` makes. */
export async function tokenWith(
  v: TestVault,
  policies: string[],
  opts: { ttl?: string } = {},
): Promise<string> {
  const res = await call(v, 'POST', 'auth/token/create', {
    policies,
    ttl: opts.ttl ?? '1h',
    renewable: true,
  });
  const token = (res.body as { auth?: { client_token?: string } } | null)?.auth?.client_token;
  if (res.status >= 300 || !token)
    throw new Error(`creating a token: ${res.status} ${JSON.stringify(res.body)}`);
  return token;
}

/** A raw Vault request with a given token (what a consumer such as Vault Agent does). */
export function vaultAs(
  v: TestVault,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: unknown }> {
  return call(v, method, path, body, token);
}
