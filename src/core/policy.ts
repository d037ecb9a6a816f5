import { usageError } from '../errors.js';
import { validateStoreName } from '../store/names.js';
import { indexShard } from '../store/summary-index.js';

/**
 * The single table of what certvault's workflows need from Vault. `certvault policy` prints policies
 * from it and `certvault doctor` checks the current token against it, so the two cannot disagree.
 * Every row was checked against the store calls the workflow makes (src/store/store.ts, src/vault/kv.ts).
 */

export type Capability = 'create' | 'read' | 'update' | 'delete' | 'list';
export type Workflow = 'setup' | 'issue' | 'renew' | 'list' | 'read';
export type Role = 'issuer' | 'renewer' | 'reader';
export type KvVersion = 1 | 2;

export const ROLES: Role[] = ['issuer', 'renewer', 'reader'];
export const WORKFLOWS: Workflow[] = ['setup', 'issue', 'renew', 'list', 'read'];

/** Folders holding one record per certificate: scoped to one name by `--name`. */
type CertFolder = 'certificates' | 'params' | 'state' | 'orders' | 'locks';
/** Folders keyed by something else (server id, credentials name): never scoped by `--name`. */
type SharedFolder = 'accounts' | 'dns';

type Target =
  | { item: CertFolder | SharedFolder } // `<folder>/<name>`
  | { folder: CertFolder | SharedFolder } // `<folder>/` (a LIST)
  | { key: 'settings' }
  | { indexShard: true }; // `index/<shard of the name>` (KV v2 only)

interface Need {
  workflow: Workflow;
  /** KV v2 engine path; on KV v1 `metadata` reads and writes do not exist and are dropped. */
  part: 'data' | 'metadata';
  target: Target;
  caps: Capability[];
  why: string;
}

const WHY_ACCOUNT_READ = 'the ACME account key signs every request to the CA';
const WHY_DNS_READ = 'the DNS provider credentials answer the DNS-01 challenges';
const WHY_JOURNAL =
  'order journal (new key + CSR) written before finalize so that a killed run resumes the same order';
const WHY_JOURNAL_DELETE = 'the journal is destroyed (all versions) once the certificate is stored';

const WHY_INDEX =
  'summary index shard (facts and renewal state of the names hashing there, no key), kept in step with every write';

const NEEDS: Need[] = [
  // setup: account register, dns set/list/remove
  {
    workflow: 'setup',
    part: 'data',
    target: { item: 'accounts' },
    caps: ['create', 'read', 'update'],
    why: 'account register stores the ACME account and its key (import may replace it)',
  },
  {
    workflow: 'setup',
    part: 'data',
    target: { key: 'settings' },
    caps: ['create', 'read', 'update'],
    why: 'account register records the default ACME server',
  },
  {
    workflow: 'setup',
    part: 'data',
    target: { item: 'dns' },
    caps: ['create', 'read', 'update'],
    why: 'dns set stores DNS provider credentials (API tokens, TSIG secrets)',
  },
  {
    workflow: 'setup',
    part: 'metadata',
    target: { folder: 'dns' },
    caps: ['list'],
    why: 'dns list names the stored credentials',
  },
  {
    workflow: 'setup',
    part: 'metadata',
    target: { item: 'dns' },
    caps: ['delete'],
    why: 'dns remove destroys every version of a credential',
  },

  // issue: a new certificate
  {
    workflow: 'issue',
    part: 'data',
    target: { key: 'settings' },
    caps: ['read'],
    why: 'the default ACME server',
  },
  { workflow: 'issue', part: 'data', target: { item: 'accounts' }, caps: ['read'], why: WHY_ACCOUNT_READ },
  { workflow: 'issue', part: 'data', target: { item: 'dns' }, caps: ['read'], why: WHY_DNS_READ },
  {
    workflow: 'issue',
    part: 'metadata',
    target: { item: 'certificates' },
    caps: ['read', 'update'],
    why: 'whether the name exists; custom metadata (domains, expiry) written right after the certificate',
  },
  {
    workflow: 'issue',
    part: 'data',
    target: { item: 'certificates' },
    caps: ['create', 'read', 'update'],
    why: 'certificate and key in one check-and-set write: create for a new name, update for issue --force',
  },
  {
    workflow: 'issue',
    part: 'data',
    target: { item: 'params' },
    caps: ['create', 'read', 'update'],
    why: 'issuance parameters (domains, key type, DNS credentials name, server) that renew reuses',
  },
  {
    workflow: 'issue',
    part: 'data',
    target: { item: 'orders' },
    caps: ['create', 'read', 'update'],
    why: WHY_JOURNAL,
  },
  {
    workflow: 'issue',
    part: 'metadata',
    target: { item: 'orders' },
    caps: ['delete'],
    why: WHY_JOURNAL_DELETE,
  },

  {
    workflow: 'issue',
    part: 'data',
    target: { indexShard: true },
    caps: ['create', 'read', 'update'],
    why: WHY_INDEX,
  },
  {
    workflow: 'issue',
    part: 'metadata',
    target: { indexShard: true },
    caps: ['read'],
    why: 'the version of an index shard that was never written, for its first check-and-set write',
  },

  // renew: new versions of existing certificates only
  {
    workflow: 'renew',
    part: 'metadata',
    target: { folder: 'certificates' },
    caps: ['list'],
    why: 'renew looks at every stored certificate',
  },
  {
    workflow: 'renew',
    part: 'metadata',
    target: { item: 'certificates' },
    caps: ['read', 'update'],
    why: 'expiry and ARI id come from custom metadata, rewritten after each renewal',
  },
  {
    workflow: 'renew',
    part: 'data',
    target: { item: 'certificates' },
    caps: ['read', 'update'],
    why: 'the renewed certificate and key are a new version of an existing secret (no create: a renewer cannot add names)',
  },
  {
    workflow: 'renew',
    part: 'data',
    target: { item: 'params' },
    caps: ['read'],
    why: 'what to order: domains, key type, DNS credentials, server (read-only: a renewer cannot change what gets issued)',
  },
  {
    workflow: 'renew',
    part: 'data',
    target: { item: 'state' },
    caps: ['create', 'read', 'update'],
    why: 'renewal bookkeeping: ARI window, backoff, last problem',
  },
  {
    workflow: 'renew',
    part: 'data',
    target: { item: 'locks' },
    caps: ['create', 'read', 'update'],
    why: 'per-certificate lease (check-and-set) so that concurrent runners renew each certificate once',
  },
  {
    workflow: 'renew',
    part: 'metadata',
    target: { item: 'locks' },
    caps: ['read'],
    why: 'the lease version when no live lock record exists',
  },
  {
    workflow: 'renew',
    part: 'metadata',
    target: { folder: 'orders' },
    caps: ['list'],
    why: 'pending-order journals to resume, found with one list',
  },
  {
    workflow: 'renew',
    part: 'data',
    target: { item: 'orders' },
    caps: ['create', 'read', 'update'],
    why: WHY_JOURNAL,
  },
  {
    workflow: 'renew',
    part: 'metadata',
    target: { item: 'orders' },
    caps: ['delete'],
    why: WHY_JOURNAL_DELETE,
  },
  {
    workflow: 'renew',
    part: 'data',
    target: { indexShard: true },
    caps: ['create', 'read', 'update'],
    why: `${WHY_INDEX}; renew plans from it and adds the names it lacks`,
  },
  {
    workflow: 'renew',
    part: 'metadata',
    target: { indexShard: true },
    caps: ['read'],
    why: 'the version of an index shard that was never written, for its first check-and-set write',
  },
  { workflow: 'renew', part: 'data', target: { item: 'accounts' }, caps: ['read'], why: WHY_ACCOUNT_READ },
  { workflow: 'renew', part: 'data', target: { item: 'dns' }, caps: ['read'], why: WHY_DNS_READ },

  // list and show
  {
    workflow: 'list',
    part: 'metadata',
    target: { folder: 'certificates' },
    caps: ['list'],
    why: 'list names the stored certificates',
  },
  {
    workflow: 'list',
    part: 'data',
    target: { indexShard: true },
    caps: ['read'],
    why: 'facts (domains, expiry, renewal status) of many certificates per read from the summary index',
  },
  {
    workflow: 'list',
    part: 'metadata',
    target: { item: 'certificates' },
    caps: ['read'],
    why: 'facts (domains, expiry) from custom metadata for names the index lacks, never the key',
  },
  {
    workflow: 'list',
    part: 'data',
    target: { item: 'certificates' },
    caps: ['read'],
    why: 'only for certificates without certvault metadata (written by other tools) and show --pem',
  },
  {
    workflow: 'list',
    part: 'data',
    target: { item: 'params' },
    caps: ['read'],
    why: 'show prints the issuance parameters',
  },
  {
    workflow: 'list',
    part: 'data',
    target: { item: 'state' },
    caps: ['read'],
    why: 'show prints the renewal state',
  },

  // read: a consumer of one certificate (web server through Vault Agent, consul-template, VSO)
  {
    workflow: 'read',
    part: 'data',
    target: { item: 'certificates' },
    caps: ['read'],
    why: 'cert, chain, fullchain and privkey of this certificate, e.g. for a Vault Agent template',
  },
];

/** Which workflows each role may run (a role is exactly the union of their needs). */
export const ROLE_WORKFLOWS: Record<Role, Workflow[]> = {
  issuer: ['setup', 'issue', 'renew', 'list'],
  renewer: ['renew'],
  reader: ['read'],
};

export const WORKFLOW_DESCRIPTIONS: Record<Workflow, string> = {
  setup: 'setting up (account register, dns set/list/remove)',
  issue: 'issuing new certificates',
  renew: 'renewing stored certificates',
  list: 'listing and showing certificates',
  read: 'reading one certificate with its key, as a web server or Vault Agent does',
};

/** The smallest role that can run a workflow, for "grant it with …" hints. */
export const ROLE_FOR: Record<Workflow, Role> = {
  setup: 'issuer',
  issue: 'issuer',
  renew: 'renewer',
  list: 'issuer',
  read: 'reader',
};

export interface Layout {
  mount: string;
  prefix: string;
  kvVersion: KvVersion;
  /** Scope per-certificate paths to one certificate; `*` (all) when absent. */
  name?: string | undefined;
}

/** One capability a workflow needs on one concrete Vault API path. */
export interface Requirement {
  path: string;
  capability: Capability;
  why: string;
}

export interface PolicyRule {
  path: string;
  capabilities: Capability[];
  why: string[];
}

const isShared = (folder: CertFolder | SharedFolder | 'index'): folder is SharedFolder =>
  folder === 'accounts' || folder === 'dns';
/** A certificate's item in a per-certificate folder: its name, or in the index the shard holding it. */
const certLeaf = (folder: CertFolder | 'index', name: string): string =>
  folder === 'index' ? indexShard(name) : name;
/** Names `doctor` probes wildcard rules with. */
const SAMPLE = { certificate: 'example.com', accounts: 'letsencrypt', dns: 'example' } as const;

const ORDER: Capability[] = ['create', 'read', 'update', 'delete', 'list'];
const sortCaps = (caps: Iterable<Capability>): Capability[] => ORDER.filter((c) => new Set(caps).has(c));

function relativePath(t: Target, leaf: (folder: CertFolder | SharedFolder | 'index') => string): string {
  if ('key' in t) return t.key;
  if ('folder' in t) return `${t.folder}/`;
  if ('indexShard' in t) return `index/${leaf('index')}`;
  return `${t.item}/${leaf(t.item)}`;
}

/** The Vault API path of a need, or null when it does not exist on this KV version. */
function pathOf(
  need: Need,
  layout: Layout,
  /** The last path segment for a folder's item: a name, a shard or `*`. */
  leaf: (folder: CertFolder | SharedFolder | 'index') => string,
): { path: string; caps: Capability[] } | null {
  const { mount, prefix, kvVersion } = layout;
  const t = need.target;
  if ('indexShard' in t && kvVersion === 1) return null; // no index without check-and-set
  const rel = relativePath(t, leaf);
  if (kvVersion === 2) return { path: `${mount}/${need.part}/${prefix}/${rel}`, caps: need.caps };
  // KV v1: one path per key; listing and deleting happen on it, custom metadata does not exist.
  const caps = need.part === 'data' ? need.caps : need.caps.filter((c) => c === 'list' || c === 'delete');
  return caps.length === 0 ? null : { path: `${mount}/${prefix}/${rel}`, caps };
}

function checkLayout(layout: Layout): void {
  if (layout.name !== undefined) validateStoreName('certificate', layout.name);
}

/** The policy of a role as path rules, in table order, capabilities merged per path. */
export function policyRules(role: Role, layout: Layout): PolicyRule[] {
  checkLayout(layout);
  if (role === 'reader' && layout.name === undefined) {
    throw usageError(
      'the reader policy is for one certificate',
      'pass --name CERT (the certificate name, e.g. example.com)',
    );
  }
  const workflows = new Set(ROLE_WORKFLOWS[role]);
  const rules = new Map<string, { caps: Set<Capability>; why: string[] }>();
  for (const need of NEEDS) {
    if (!workflows.has(need.workflow)) continue;
    const p = pathOf(need, layout, (folder) =>
      isShared(folder) || layout.name === undefined ? '*' : certLeaf(folder, layout.name),
    );
    if (!p) continue;
    const rule = rules.get(p.path) ?? { caps: new Set<Capability>(), why: [] };
    p.caps.forEach((c) => rule.caps.add(c));
    if (!rule.why.includes(need.why)) rule.why.push(need.why);
    rules.set(p.path, rule);
  }
  return [...rules].map(([path, r]) => ({ path, capabilities: sortCaps(r.caps), why: r.why }));
}

/** Vault HCL with a comment on each path saying why. */
export function policyHcl(role: Role, layout: Layout): string {
  const rules = policyRules(role, layout);
  const scope = layout.name ? `certificate "${layout.name}"` : 'all certificates';
  const header = [
    `# certvault ${role} policy: ${ROLE_WORKFLOWS[role].map((w) => WORKFLOW_DESCRIPTIONS[w]).join('; ')}.`,
    `# KV v${layout.kvVersion} mount "${layout.mount}", prefix "${layout.prefix}", ${scope}.`,
    '# Tokens also need Vault\'s built-in "default" policy (token lookup-self and renew-self,',
    '# sys/capabilities-self for `certvault doctor`). In a namespace, write it inside that namespace.',
  ];
  const blocks = rules.map((r) =>
    [
      ...r.why.map((w) => `# ${w}`),
      `path "${r.path}" {`,
      `  capabilities = [${r.capabilities.map((c) => `"${c}"`).join(', ')}]`,
      '}',
    ].join('\n'),
  );
  return `${header.join('\n')}\n\n${blocks.join('\n\n')}\n`;
}

/** The JSON policy form Vault also accepts: `{"path": {"<path>": {"capabilities": [...]}}}`. */
export function policyJson(
  role: Role,
  layout: Layout,
): { path: Record<string, { capabilities: Capability[] }> } {
  return {
    path: Object.fromEntries(
      policyRules(role, layout).map((r) => [r.path, { capabilities: r.capabilities }]),
    ),
  };
}

/**
 * What one workflow needs, on concrete paths (`doctor` asks sys/capabilities-self about them).
 * Wildcard rows are probed on a sample name, which any `*` rule covers.
 */
export function workflowRequirements(workflow: Workflow, layout: Layout): Requirement[] {
  checkLayout(layout);
  const out: Requirement[] = [];
  for (const need of NEEDS) {
    if (need.workflow !== workflow) continue;
    const p = pathOf(need, layout, (folder) =>
      isShared(folder) ? SAMPLE[folder] : certLeaf(folder, layout.name ?? SAMPLE.certificate),
    );
    if (!p) continue;
    for (const capability of p.caps) {
      if (!out.some((r) => r.path === p.path && r.capability === capability))
        out.push({ path: p.path, capability, why: need.why });
    }
  }
  return out;
}

/** Missing requirements given what capabilities-self reported per path (`root` grants all). */
export function missingCapabilities(reqs: Requirement[], granted: (path: string) => string[]): Requirement[] {
  return reqs.filter((r) => {
    const caps = granted(r.path);
    return !caps.includes('root') && !caps.includes(r.capability);
  });
}

export function parseRole(value: string): Role {
  if (!(ROLES as string[]).includes(value))
    throw usageError(`unknown role "${value}"`, `use one of ${ROLES.join(', ')}`);
  return value as Role;
}

export function parseKvVersion(value: string | undefined): KvVersion {
  if (value === undefined || value === '2') return 2;
  if (value === '1') return 1;
  throw usageError(`invalid --kv-version "${value}"`, 'use 1 or 2');
}
