import { access, stat, constants } from 'node:fs/promises';
import { errorText } from '../errors.js';
import type { OpenedStore } from '../store/open.js';
import { FileKv } from '../store/file-kv.js';
import type { VaultClient } from '../vault/client.js';

export interface Check {
  name: string;
  ok: boolean;
  /** Warnings do not fail `doctor` but are shown. */
  warning?: boolean;
  detail: string;
  fix?: string;
}

type Cap = 'read' | 'list' | 'create' | 'update';

/** What each workflow needs, by store area (`certificates.meta` = KV v2 metadata of certificates). */
const WORKFLOWS: Record<string, Record<string, Cap[]>> = {
  read: { 'certificates.list': ['list'], 'certificates.meta': ['read'], params: ['read'], state: ['read'] },
  issue: {
    'certificates.data': ['read', 'create', 'update'],
    'certificates.meta': ['read', 'create', 'update'],
    params: ['read', 'create', 'update'],
    state: ['read', 'create', 'update'],
    accounts: ['read'],
    dns: ['read'],
  },
  renew: {
    'certificates.list': ['list'],
    'certificates.data': ['read', 'update'],
    'certificates.meta': ['read', 'update'],
    params: ['read'],
    state: ['read', 'create', 'update'],
    accounts: ['read'],
    dns: ['read'],
  },
  setup: { accounts: ['read', 'create', 'update'], dns: ['read', 'create', 'update'], settings: ['read', 'create', 'update'] },
};

export async function runDoctor(openStore: () => Promise<OpenedStore>): Promise<Check[]> {
  const checks: Check[] = [];
  let opened: OpenedStore;
  try {
    opened = await openStore();
  } catch (err) {
    checks.push({ name: 'store', ok: false, detail: errorText(err), fix: 'see the hint above, then run `certvault doctor` again' });
    return checks;
  }
  const { store, vault } = opened;
  checks.push({ name: 'store', ok: true, detail: store.location });
  if (store.kv instanceof FileKv) {
    checks.push(...(await fileChecks(store.kv.root)));
    return checks;
  }
  if (!vault) return checks;
  const { client, settings, mount } = vault;
  checks.push(await healthCheck(client));
  checks.push(await tokenCheck(client, settings.tokenSource));
  checks.push(
    mount.version === 2
      ? { name: 'kv', ok: true, detail: `mount ${mount.mount}/ is KV v2` }
      : {
          name: 'kv',
          ok: true,
          warning: true,
          detail: `mount ${mount.mount}/ is KV v1: no check-and-set, versions or metadata`,
          fix: 'use a KV v2 mount (vault secrets enable -path=NAME kv-v2) so concurrent runs are safe and listing avoids keys',
        },
  );
  checks.push(...(await capabilityChecks(client, mount.mount, mount.version, store.prefix)));
  return checks;
}

async function fileChecks(root: string): Promise<Check[]> {
  try {
    const s = await stat(root);
    await access(root, constants.W_OK);
    const mode = s.mode & 0o777;
    return [
      mode & 0o077
        ? { name: 'permissions', ok: false, detail: `${root} is mode ${mode.toString(8)}, readable by others`, fix: `chmod 700 ${root}` }
        : { name: 'permissions', ok: true, detail: `${root} is private (mode ${mode.toString(8)}) and writable` },
    ];
  } catch (err) {
    return [{ name: 'permissions', ok: false, detail: `${root}: ${errorText(err)}`, fix: 'make the directory writable by this user' }];
  }
}

async function healthCheck(client: VaultClient): Promise<Check> {
  try {
    const res = await client.request({
      method: 'GET',
      path: 'sys/health',
      noToken: true,
      accept: [429, 472, 473, 501, 503],
      retry: 'unsent-only',
    });
    const b = (res.body ?? {}) as { version?: string; sealed?: boolean; standby?: boolean; initialized?: boolean };
    const version = b.version ? ` version ${b.version}` : '';
    if (b.sealed) return { name: 'vault', ok: false, detail: `${client.addr} is sealed${version}`, fix: 'unseal Vault' };
    if (b.initialized === false) return { name: 'vault', ok: false, detail: `${client.addr} is not initialized`, fix: 'initialize Vault' };
    return { name: 'vault', ok: true, detail: `${client.addr} reachable${version}${b.standby ? ' (standby node; requests are forwarded)' : ''}` };
  } catch (err) {
    return { name: 'vault', ok: false, detail: errorText(err), fix: 'check VAULT_ADDR, the network and VAULT_CACERT' };
  }
}

async function tokenCheck(client: VaultClient, source: string): Promise<Check> {
  try {
    const res = await client.request({ method: 'GET', path: 'auth/token/lookup-self' });
    const d = (res.body as { data: { display_name?: string; policies?: string[]; ttl?: number; renewable?: boolean } }).data;
    const ttl = d.ttl ? `expires in ${Math.round(d.ttl / 60)} min${d.renewable ? ', renewable' : ''}` : 'no expiry';
    return { name: 'auth', ok: true, detail: `token from ${source}: ${d.display_name ?? '?'}, policies ${(d.policies ?? []).join(',')}, ${ttl}` };
  } catch (err) {
    return {
      name: 'auth',
      ok: false,
      detail: `token from ${source} rejected: ${errorText(err)}`,
      fix: 'log in again (vault login), or set VAULT_TOKEN / --vault-token-file',
    };
  }
}

async function capabilityChecks(client: VaultClient, mount: string, version: 1 | 2, prefix: string): Promise<Check[]> {
  const area = (kind: 'data' | 'metadata', sub: string) => (version === 2 ? `${mount}/${kind}/${prefix}/${sub}` : `${mount}/${prefix}/${sub}`);
  const paths: Record<string, string> = {
    'certificates.data': area('data', 'certificates/example.com'),
    'certificates.meta': area('metadata', 'certificates/example.com'),
    'certificates.list': area('metadata', 'certificates/'),
    params: area('data', 'params/example.com'),
    state: area('data', 'state/example.com'),
    accounts: area('data', 'accounts/letsencrypt'),
    dns: area('data', 'dns/example'),
    settings: area('data', 'settings'),
  };
  let caps: Record<string, string[]>;
  try {
    const res = await client.request({
      method: 'POST',
      path: 'sys/capabilities-self',
      body: { paths: Object.values(paths) },
      retry: 'idempotent',
    });
    const data = ((res.body as { data?: Record<string, string[]> }).data ?? res.body) as Record<string, string[]>;
    caps = Object.fromEntries(Object.entries(paths).map(([k, p]) => [k, data[p] ?? []]));
  } catch (err) {
    return [{ name: 'capabilities', ok: false, warning: true, detail: `cannot query capabilities: ${errorText(err)}`, fix: 'the default policy grants sys/capabilities-self; ask your Vault admin' }];
  }
  const has = (areaName: string, cap: Cap) => {
    const c = caps[areaName] ?? [];
    return c.includes('root') || c.includes(cap);
  };
  return Object.entries(WORKFLOWS).map(([workflow, needs]) => {
    const missing = Object.entries(needs).flatMap(([a, wanted]) =>
      [...new Set(wanted)].filter((cap) => !has(a, cap)).map((cap) => `${cap} on ${paths[a]}`),
    );
    return missing.length === 0
      ? { name: `can ${workflow}`, ok: true, detail: 'all capabilities present' }
      : {
          name: `can ${workflow}`,
          ok: false,
          warning: true,
          detail: `missing ${missing.join(', ')}`,
          fix: `grant them (certvault policy prints policies per role)`,
        };
  });
}
