import { access, stat, constants } from 'node:fs/promises';
import { CertvaultError, errorText } from '../errors.js';
import type { OpenedStore } from '../store/open.js';
import type { StateStore } from '../store/store.js';
import { FileKv } from '../store/file-kv.js';
import type { VaultClient } from '../vault/client.js';
import { capabilitiesSelf } from './access.js';
import {
  missingCapabilities,
  ROLE_FOR,
  WORKFLOW_DESCRIPTIONS,
  WORKFLOWS,
  workflowRequirements,
  type Capability,
  type Layout,
  type Workflow,
} from './policy.js';

export interface Check {
  name: string;
  ok: boolean;
  /** Warnings do not fail `doctor` but are shown. */
  warning?: boolean;
  detail: string;
  fix?: string;
  /** Capability checks: what the current identity lacks for the workflow. */
  missing?: { capability: Capability; path: string }[];
}

export interface DoctorOptions {
  /** Certificate to check per-certificate capabilities on (a reader's policy names one). */
  name?: string | undefined;
}

export async function runDoctor(
  openStore: () => Promise<OpenedStore>,
  opts: DoctorOptions = {},
): Promise<Check[]> {
  const checks: Check[] = [];
  let opened: OpenedStore;
  try {
    opened = await openStore();
  } catch (err) {
    const hint = err instanceof CertvaultError ? err.hint : undefined;
    checks.push({
      name: 'store',
      ok: false,
      detail: hint === undefined ? errorText(err) : (err as Error).message,
      fix: hint ?? 'fix what the detail names, then run `certvault doctor` again',
    });
    return checks;
  }
  const { store, vault } = opened;
  checks.push({ name: 'store', ok: true, detail: store.location });
  if (store.kv instanceof FileKv) {
    checks.push(...(await fileChecks(store.kv.root)), ...(await indexCheck(store)));
    return checks;
  }
  if (!vault) return checks;
  const { client, auth, mount } = vault;
  checks.push(await healthCheck(client));
  checks.push(await tokenCheck(client, auth.describe()));
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
  checks.push(
    ...(await capabilityChecks(client, {
      mount: mount.mount,
      prefix: store.prefix,
      kvVersion: mount.version,
      name: opts.name,
    })),
    ...(await indexCheck(store)),
  );
  return checks;
}

/**
 * How many certificates the summary index answers for (docs/vault-layout.md). Nothing when there is
 * no index (KV v1, said above) or nothing to list (no certificates, or no right to list them).
 */
async function indexCheck(store: StateStore): Promise<Check[]> {
  if (!store.index) return [];
  const names = await store.listCertificateNames().catch(() => []);
  if (names.length === 0) return [];
  const indexed = await store.readIndex(names);
  const missing = names.length - indexed.size;
  if (missing === 0)
    return [
      { name: 'index', ok: true, detail: `the summary index answers for all ${names.length} certificates` },
    ];
  return [
    {
      name: 'index',
      ok: true,
      warning: true,
      detail: `${missing} of ${names.length} certificates are missing from the summary index (written by other tools, or a write in flight): list and renew read them one by one`,
      fix: 'run `certvault renew` once: it adds them (not with --dry-run); a token that cannot read index/ sees them all as missing',
    },
  ];
}

async function fileChecks(root: string): Promise<Check[]> {
  try {
    const s = await stat(root);
    await access(root, constants.W_OK);
    const mode = s.mode & 0o777;
    return [
      mode & 0o077
        ? {
            name: 'permissions',
            ok: false,
            detail: `${root} is mode ${mode.toString(8)}, readable by others`,
            fix: `chmod 700 ${root}`,
          }
        : {
            name: 'permissions',
            ok: true,
            detail: `${root} is private (mode ${mode.toString(8)}) and writable`,
          },
    ];
  } catch (err) {
    return [
      {
        name: 'permissions',
        ok: false,
        detail: `${root}: ${errorText(err)}`,
        fix: 'make the directory writable by this user',
      },
    ];
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
    const b = (res.body ?? {}) as {
      version?: string;
      sealed?: boolean;
      standby?: boolean;
      initialized?: boolean;
    };
    const version = b.version ? ` version ${b.version}` : '';
    if (b.sealed)
      return { name: 'vault', ok: false, detail: `${client.addr} is sealed${version}`, fix: 'unseal Vault' };
    if (b.initialized === false)
      return {
        name: 'vault',
        ok: false,
        detail: `${client.addr} is not initialized`,
        fix: 'initialize Vault',
      };
    return {
      name: 'vault',
      ok: true,
      detail: `${client.addr} reachable${version}${b.standby ? ' (standby node; requests are forwarded)' : ''}`,
    };
  } catch (err) {
    return {
      name: 'vault',
      ok: false,
      detail: errorText(err),
      fix: 'check VAULT_ADDR, the network and VAULT_CACERT',
    };
  }
}

async function tokenCheck(client: VaultClient, source: string): Promise<Check> {
  try {
    const res = await client.request({ method: 'GET', path: 'auth/token/lookup-self' });
    const d = (
      res.body as { data: { display_name?: string; policies?: string[]; ttl?: number; renewable?: boolean } }
    ).data;
    const ttl = d.ttl
      ? `expires in ${Math.round(d.ttl / 60)} min${d.renewable ? ', renewable' : ''}`
      : 'no expiry';
    return {
      name: 'auth',
      ok: true,
      detail: `${source}: ${d.display_name ?? '?'}, policies ${(d.policies ?? []).join(',')}, ${ttl}`,
    };
  } catch (err) {
    return {
      name: 'auth',
      ok: false,
      detail: `${source}: token rejected: ${errorText(err)}`,
      fix: 'log in again (vault login), set VAULT_TOKEN / --vault-token-file, or use --vault-auth (docs/security.md)',
    };
  }
}

/** Per workflow: may this identity run it, and which capability on which path is missing (policy.ts table). */
async function capabilityChecks(client: VaultClient, layout: Layout): Promise<Check[]> {
  const needs = new Map<Workflow, ReturnType<typeof workflowRequirements>>(
    WORKFLOWS.map((w) => [w, workflowRequirements(w, layout)]),
  );
  const paths = [...new Set([...needs.values()].flat().map((r) => r.path))];
  let data: Record<string, string[]>;
  try {
    data = await capabilitiesSelf(client, paths);
  } catch (err) {
    return [
      {
        name: 'capabilities',
        ok: false,
        warning: true,
        detail: `cannot query capabilities: ${errorText(err)}`,
        fix: 'the default policy grants sys/capabilities-self; ask your Vault admin',
      },
    ];
  }
  return WORKFLOWS.map((workflow): Check => {
    const name = `can ${workflow}`;
    const missing = missingCapabilities(needs.get(workflow) ?? [], (p) => data[p] ?? []);
    if (missing.length === 0) return { name, ok: true, detail: `yes: ${WORKFLOW_DESCRIPTIONS[workflow]}` };
    const role = ROLE_FOR[workflow];
    const sample =
      workflow === 'read' && layout.name === undefined
        ? ' (checked on a sample name: pass --name CERT for yours)'
        : '';
    const byPath = new Map<string, string[]>();
    for (const m of missing) byPath.set(m.path, [...(byPath.get(m.path) ?? []), m.capability]);
    return {
      name,
      ok: false,
      warning: true,
      detail: `no: ${WORKFLOW_DESCRIPTIONS[workflow]} needs ${[...byPath].map(([p, caps]) => `${caps.join(', ')} on ${p}`).join('; ')}${sample}`,
      fix: `only if this identity should do that: attach the policy printed by \`certvault policy ${role}${role === 'reader' ? ' --name CERT' : ''}\``,
      missing: missing.map((m) => ({ capability: m.capability, path: m.path })),
    };
  });
}
