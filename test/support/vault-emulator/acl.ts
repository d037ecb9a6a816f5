// ACL policies: parsing and evaluation with Vault's matching rules (exact, `*` prefix, `+` segment,
// priority between different patterns, union for equal patterns, deny wins).
import { parseHcl, type HclBody, type HclValue } from './hcl.js';
import type { Operation } from './types.js';

const VALID = new Set([
  'create',
  'read',
  'update',
  'patch',
  'delete',
  'list',
  'sudo',
  'deny',
  'scan',
  'subscribe',
]);
const GRANTING = ['create', 'read', 'update', 'patch', 'delete', 'list', 'sudo', 'scan'];
const LEGACY: Record<string, string[]> = {
  deny: ['deny'],
  read: ['read', 'list'],
  write: ['create', 'read', 'update', 'delete', 'list'],
  sudo: ['create', 'read', 'update', 'delete', 'list', 'sudo'],
};

export interface PolicyRule {
  path: string;
  capabilities: string[];
}
export interface Policy {
  name: string;
  text: string;
  rules: PolicyRule[];
}

/** The built-in `default` policy (CORE `policy_store.go`), minus identity templating. */
export const DEFAULT_POLICY = `# Allow tokens to look up their own properties
path "auth/token/lookup-self" {
    capabilities = ["read"]
}
path "auth/token/renew-self" {
    capabilities = ["update"]
}
path "auth/token/revoke-self" {
    capabilities = ["update"]
}
path "sys/capabilities-self" {
    capabilities = ["update"]
}
path "sys/internal/ui/resultant-acl" {
    capabilities = ["read"]
}
path "sys/renew" {
    capabilities = ["update"]
}
path "sys/leases/renew" {
    capabilities = ["update"]
}
path "sys/leases/lookup" {
    capabilities = ["update"]
}
path "cubbyhole/*" {
    capabilities = ["create", "read", "update", "delete", "list"]
}
path "sys/wrapping/wrap" {
    capabilities = ["update"]
}
path "sys/wrapping/lookup" {
    capabilities = ["update"]
}
path "sys/wrapping/unwrap" {
    capabilities = ["update"]
}
path "sys/tools/hash" {
    capabilities = ["update"]
}
path "sys/tools/hash/*" {
    capabilities = ["update"]
}
path "sys/control-group/request" {
    capabilities = ["update"]
}
path "sys/mfa/challenge" {
    capabilities = ["update"]
}
`;

function jsonToBody(v: unknown): HclBody {
  // {"path": {"a/*": {"capabilities": [...]}}} → the same shape the HCL reader produces.
  const body: HclBody = { attributes: new Map(), blocks: [] };
  if (typeof v !== 'object' || v === null) return body;
  for (const [k, x] of Object.entries(v)) {
    if (k === 'path' && typeof x === 'object' && x !== null) {
      for (const [p, inner] of Object.entries(x))
        body.blocks.push({ type: 'path', labels: [p], body: jsonToBody(inner) });
    } else body.attributes.set(k, x as HclValue);
  }
  return body;
}

/** Parses a policy document; errors carry Vault's wording after "failed to parse policy: ". */
export function parsePolicy(name: string, text: string): Policy {
  let body: HclBody;
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    try {
      body = jsonToBody(JSON.parse(trimmed));
    } catch (e) {
      throw new Error(`failed to parse policy: ${(e as Error).message}`, { cause: e });
    }
  } else {
    try {
      body = parseHcl(text);
    } catch (e) {
      throw new Error(`failed to parse policy: ${(e as Error).message}`, { cause: e });
    }
  }
  for (const key of body.attributes.keys()) {
    if (key !== 'name') throw new Error(`failed to parse policy: invalid key "${key}"`);
  }
  const rules: PolicyRule[] = [];
  for (const block of body.blocks) {
    if (block.type !== 'path') throw new Error(`failed to parse policy: invalid key "${block.type}"`);
    const path = (block.labels[0] ?? '').replace(/^\/+/, '');
    if (path.includes('+*')) {
      throw new Error(`failed to parse policy: path "${path}": invalid use of wildcards ('+*' is forbidden)`);
    }
    const caps = new Set<string>();
    const list = block.body.attributes.get('capabilities');
    if (Array.isArray(list)) {
      for (const c of list) {
        const cap = String(c).toLowerCase();
        if (!VALID.has(cap))
          throw new Error(`failed to parse policy: path "${path}": invalid capability "${String(c)}"`);
        caps.add(cap);
      }
    }
    const legacy = block.body.attributes.get('policy');
    if (typeof legacy === 'string') {
      const mapped = LEGACY[legacy.toLowerCase()];
      if (!mapped) throw new Error(`failed to parse policy: path "${path}": invalid policy "${legacy}"`);
      mapped.forEach((c) => caps.add(c));
    }
    rules.push({ path, capabilities: caps.has('deny') ? ['deny'] : [...caps] });
  }
  return { name, text, rules };
}

interface Candidate {
  first: number;
  isPrefix: boolean;
  wildcards: number;
  wcPath: string;
  caps: Set<string>;
}

/** Higher value = higher priority (Vault's `CheckAllowedFromNonExactPaths` ordering). */
function comparePriority(a: Candidate, b: Candidate): number {
  if (a.first !== b.first) return a.first - b.first;
  if (a.isPrefix !== b.isPrefix) return a.isPrefix ? -1 : 1;
  if (a.wildcards !== b.wildcards) return b.wildcards - a.wildcards;
  if (a.wcPath.length !== b.wcPath.length) return a.wcPath.length - b.wcPath.length;
  return a.wcPath < b.wcPath ? -1 : a.wcPath > b.wcPath ? 1 : 0;
}

const isSegmentPattern = (p: string): boolean => p === '+' || p.includes('/+') || p.startsWith('+/');
const hasGrant = (caps: Set<string>): boolean => !caps.has('deny') && GRANTING.some((c) => caps.has(c));

export class Acl {
  readonly root: boolean;
  private readonly exact = new Map<string, Set<string>>();
  private readonly prefix = new Map<string, Set<string>>();
  private readonly segment = new Map<string, Set<string>>();

  constructor(policies: Policy[], root = false) {
    this.root = root;
    for (const policy of policies) {
      for (const rule of policy.rules) {
        let table = this.exact;
        let key = rule.path;
        if (isSegmentPattern(key)) table = this.segment;
        else if (key.endsWith('*')) {
          table = this.prefix;
          key = key.slice(0, -1);
        }
        const existing = table.get(key);
        if (!existing) table.set(key, new Set(rule.capabilities));
        else if (existing.has('deny')) continue;
        else if (rule.capabilities.includes('deny')) table.set(key, new Set(['deny']));
        else rule.capabilities.forEach((c) => existing.add(c));
      }
    }
  }

  private nonExact(path: string): Set<string> | undefined {
    const candidates: Candidate[] = [];
    let best: string | undefined;
    for (const p of this.prefix.keys()) {
      if (path.startsWith(p) && (best === undefined || p.length > best.length)) best = p;
    }
    if (best !== undefined) {
      const caps = this.prefix.get(best) as Set<string>;
      if (this.segment.size === 0) return caps;
      candidates.push({ first: best.length, isPrefix: true, wildcards: 0, wcPath: best, caps });
    }
    const pathParts = path.split('/');
    outer: for (const [full, caps] of this.segment) {
      const isPrefix = full.endsWith('*');
      const wcPath = isPrefix ? full.slice(0, -1) : full;
      const parts = wcPath.split('/');
      if (pathParts.length < parts.length) continue;
      if (!isPrefix && parts.length !== pathParts.length) continue;
      let wildcards = 0;
      for (let i = 0; i < parts.length; i++) {
        const a = parts[i] ?? '';
        const p = pathParts[i] ?? '';
        if (a === '+') wildcards++;
        else if (a !== p && !(isPrefix && i === parts.length - 1 && p.startsWith(a))) continue outer;
      }
      candidates.push({ first: full.indexOf('+'), isPrefix, wildcards, wcPath, caps });
    }
    if (candidates.length === 0) return undefined;
    candidates.sort(comparePriority);
    return candidates[candidates.length - 1]?.caps;
  }

  private lookup(path: string, op: Operation): Set<string> | undefined {
    const p = path.replace(/^\/+/, '');
    return (
      this.exact.get(p) ??
      (op === 'list' ? this.exact.get(p.replace(/\/$/, '')) : undefined) ??
      this.nonExact(p)
    );
  }

  allows(path: string, op: Operation, sudo = false): boolean {
    if (this.root) return true;
    const caps = this.lookup(path, op);
    if (!caps || caps.has('deny') || op === 'header') return false;
    return caps.has(op) && (!sudo || caps.has('sudo'));
  }

  /** What `sys/capabilities-self` reports for one path (sorted; "deny" when nothing applies). */
  capabilities(path: string): string[] {
    if (this.root) return ['root'];
    const caps = this.lookup(path, 'list');
    if (!caps || caps.has('deny') || caps.size === 0) return ['deny'];
    return [...caps].sort();
  }

  /** `hasMountAccess`: any non-deny capability on the mount or anywhere under it. */
  hasMountAccess(mountPath: string): boolean {
    if (this.root) return true;
    if (!this.capabilities(mountPath).includes('deny')) return true;
    for (const table of [this.exact, this.prefix]) {
      for (const [k, caps] of table) if (k.startsWith(mountPath) && hasGrant(caps)) return true;
    }
    const mountParts = mountPath.split('/');
    for (const [full, caps] of this.segment) {
      if (!hasGrant(caps)) continue;
      const isPrefix = full.endsWith('*');
      const parts = (isPrefix ? full.slice(0, -1) : full).split('/');
      const segs: string[] = [];
      for (let i = 0; i < parts.length; i++) {
        const a = parts[i] ?? '';
        const m = mountParts[i] ?? '';
        if (a === '+' || a === m) segs.push(m);
        else if (isPrefix && i === parts.length - 1 && m.startsWith(a)) segs.push(...mountParts.slice(i));
        if (i === mountParts.length - 2) {
          if (`${segs.join('/')}/`.startsWith(mountPath)) return true;
          break;
        }
      }
    }
    return false;
  }
}
