// The `sys/` and `auth/token/` endpoints the tool and its tests use.
import { parsePolicy } from './acl.js';
import { parseFields } from './fields.js';
import type { Namespace, State } from './state.js';
import { sanitizePolicies, type TokenEntry } from './tokens.js';
import { fail, nothing, ok, respond, type MountEntry, type Operation, type Outcome } from './types.js';
import {
  byteCompare,
  multiError,
  NS_PER_S,
  parseGoBool,
  struct,
  unixSeconds,
  type JsonObject,
} from './util.js';

export interface CallCtx {
  state: State;
  ns: Namespace;
  path: string;
  op: Operation;
  data: JsonObject;
  now: bigint;
  token: TokenEntry;
  wrapTtl: number;
}

const unsupportedPath = (): Outcome => ({
  kind: 'error',
  status: 404,
  messages: [multiError('unsupported path')],
});
const unsupportedOp = (): Outcome => ({
  kind: 'error',
  status: 405,
  messages: [multiError('unsupported operation')],
});
const isWrite = (op: Operation): boolean => op === 'create' || op === 'update';
const topLevel = (data: JsonObject): Outcome => respond({ data, topLevel: true });

// ---- unauthenticated status endpoints ----

const CODE_FIELDS = [
  'activecode',
  'standbycode',
  'sealedcode',
  'uninitcode',
  'drsecondarycode',
  'performancestandbycode',
] as const;

export function health(state: State, head: boolean, query: URLSearchParams): Outcome {
  const codes: Record<string, number> = {
    activecode: 200,
    standbycode: 429,
    sealedcode: 503,
    uninitcode: 501,
    drsecondarycode: 472,
    performancestandbycode: 473,
  };
  for (const f of CODE_FIELDS) {
    const v = query.get(f);
    if (v === null) continue;
    if (!/^\d+$/.test(v)) return fail(`failed to parse ${f}: strconv.Atoi: parsing "${v}": invalid syntax`);
    codes[f] = Number(v);
  }
  const standbyOk = query.has('standbyok') ? parseGoBool(query.get('standbyok') ?? '') : false;
  if (standbyOk === undefined) return fail('bad value for standbyok parameter');
  let status = codes.activecode ?? 200;
  if (!state.initialized) status = codes.uninitcode ?? 501;
  else if (state.sealed) status = codes.sealedcode ?? 503;
  else if (state.standby && !standbyOk) status = codes.standbycode ?? 429;
  const vault = state.opts.flavor === 'vault';
  const cluster =
    state.sealed || !state.initialized
      ? {}
      : { cluster_name: 'vault-cluster-emulator', cluster_id: CLUSTER_ID };
  const body = struct({
    initialized: state.initialized,
    sealed: state.sealed,
    standby: state.standby,
    performance_standby: false,
    replication_performance_mode: 'disabled',
    replication_dr_mode: 'disabled',
    server_time_utc: unixSeconds(state.now()),
    version: state.opts.version,
    enterprise: vault ? false : undefined,
    ...cluster,
    echo_duration_ms: vault ? 0 : undefined,
    clock_skew_ms: vault ? 0 : undefined,
  });
  return { kind: 'http', status, body: head ? null : body };
}

const CLUSTER_ID = '7f6b2d4e-0000-4000-8000-00000000c1d0';

export function sealStatus(state: State): Outcome {
  const cluster = state.sealed ? {} : { cluster_name: 'vault-cluster-emulator', cluster_id: CLUSTER_ID };
  return {
    kind: 'http',
    status: 200,
    body: struct({
      type: 'shamir',
      initialized: state.initialized,
      sealed: state.sealed,
      t: 1,
      n: 1,
      progress: 0,
      nonce: '',
      version: state.opts.version,
      build_date: '2025-01-01T00:00:00Z',
      migration: false,
      ...cluster,
      recovery_seal: false,
      storage_type: 'inmem',
    }),
  };
}

export function leader(state: State, selfAddr: string): Outcome {
  return {
    kind: 'http',
    status: 200,
    body: struct({
      ha_enabled: state.standby || state.activeAddress !== undefined,
      is_self: !state.standby,
      active_time: '0001-01-01T00:00:00Z',
      leader_address: state.standby ? (state.activeAddress ?? '') : selfAddr,
      leader_cluster_address: '',
      performance_standby: false,
      performance_standby_last_remote_wal: 0,
    }),
  };
}

// ---- mounts ----

export function mountInfo(m: MountEntry): JsonObject {
  return {
    accessor: m.accessor,
    config: { default_lease_ttl: 0, force_no_cache: false, max_lease_ttl: 0 },
    description: m.description,
    external_entropy_access: false,
    local: false,
    options: m.options,
    plugin_version: '',
    running_plugin_version: m.type === 'kv' ? 'v0.25.0+builtin' : `v${m.type}+builtin.vault`,
    running_sha256: '',
    seal_wrap: false,
    type: m.type,
    uuid: m.uuid,
  };
}

/** Pseudo mount entries for the auth methods, so the preflight endpoint can find them. */
function authMountEntries(state: State): MountEntry[] {
  return [...state.auth.mounts].map(([path, type]) => ({
    path: `auth/${path}/`,
    type,
    description: '',
    accessor: `auth_${type}_${path.length}`,
    uuid: `00000000-0000-4000-8000-${String(path.length).padStart(12, '0')}`,
    options: null,
  }));
}

/** `GET sys/internal/ui/mounts[/<path>]`: needs a token but no explicit policy (CORE `pathInternalUIMountRead`). */
export function uiMounts(
  state: State,
  ns: Namespace,
  rest: string,
  token: TokenEntry | undefined,
  invalidToken: () => Outcome,
): Outcome {
  const all = [...ns.mounts.values(), ...authMountEntries(state)];
  if (rest === '') {
    if (!token) return invalidToken();
    const acl = state.aclFor(token);
    const secret: JsonObject = {};
    const auth: JsonObject = {};
    for (const m of all) {
      if (!acl.hasMountAccess(ns.path + m.path)) continue;
      if (m.path.startsWith('auth/')) auth[m.path.slice(5)] = mountInfo(m);
      else secret[m.path] = mountInfo(m);
    }
    return ok({ auth, secret });
  }
  const path = rest.replace(/^\/+/, '').replace(/\/?$/, '/');
  const denied = fail(
    `preflight capability check returned 403, please ensure client's policies grant access to path "${path}"`,
    403,
  );
  let mount: MountEntry | undefined;
  for (const m of all)
    if (path.startsWith(m.path) && (!mount || m.path.length > mount.path.length)) mount = m;
  if (!mount) return denied;
  if (!token) return invalidToken();
  if (!state.aclFor(token).hasMountAccess(ns.path + mount.path)) return denied;
  return ok({ ...mountInfo(mount), path: mount.path });
}

function mounts(ctx: CallCtx, rest: string): Outcome {
  const { state, ns, op } = ctx;
  if (rest === '') {
    if (op !== 'read') return unsupportedOp();
    const data: JsonObject = {};
    for (const m of ns.mounts.values()) data[m.path] = mountInfo(m);
    return topLevel(data);
  }
  const path = `${rest.replace(/\/+$/, '')}/`;
  if (op === 'read') {
    const m = ns.mounts.get(path);
    return m ? topLevel(mountInfo(m)) : fail(`No secret engine mount at ${path}`);
  }
  if (op === 'delete') {
    state.unmount(ns.path, path);
    return nothing();
  }
  if (!isWrite(op)) return unsupportedOp();
  const type = String(ctx.data.type ?? '');
  const options = (ctx.data.options ?? {}) as JsonObject;
  if (type !== 'kv' && type !== 'kv-v2' && type !== 'generic') {
    return fail(`plugin not found in the catalog: ${type}`);
  }
  const version = type === 'kv-v2' || String(options.version ?? '1') === '2' ? 2 : 1;
  try {
    state.mount(ns.path, { path, version, description: String(ctx.data.description ?? '') });
  } catch (e) {
    return fail((e as Error).message);
  }
  return nothing();
}

// ---- policies ----

function policies(ctx: CallCtx, modern: boolean, name: string): Outcome {
  const { state, op } = ctx;
  if (name === '') {
    if (op !== 'read' && op !== 'list') return unsupportedOp();
    const keys = [...state.policies.keys(), ...(modern ? [] : ['root'])].sort(byteCompare);
    return modern ? ok({ keys }) : topLevel({ keys, policies: keys });
  }
  const n = name.toLowerCase();
  if (op === 'read') {
    const p = state.policies.get(n);
    if (!p) return nothing();
    return modern ? ok({ name: n, policy: p.text }) : topLevel({ name: n, rules: p.text });
  }
  if (op === 'delete') {
    if (n === 'root' || n === 'default') return fail(`cannot delete "${n}" policy`);
    state.policies.delete(n);
    return nothing();
  }
  if (!isWrite(op)) return unsupportedOp();
  const text = ctx.data.policy ?? ctx.data.rules;
  if (typeof text !== 'string' || text === '') return fail("'policy' parameter not supplied or empty");
  if (n === 'root') return fail('cannot update "root" policy');
  try {
    parsePolicy(n, text);
    state.setPolicy(n, text);
  } catch (e) {
    return fail((e as Error).message);
  }
  return nothing();
}

function capabilitiesSelf(ctx: CallCtx): Outcome {
  if (!isWrite(ctx.op)) return unsupportedOp();
  const parsed = parseFields(ctx.data, { path: 'stringSlice', paths: 'stringSlice' });
  if ('error' in parsed) return fail(parsed.error);
  const paths = [
    ...((parsed.fields.get('paths') as string[] | undefined) ?? []),
    ...((parsed.fields.get('path') as string[] | undefined) ?? []),
  ];
  if (paths.length === 0) return fail("'paths' must be specified");
  const acl = ctx.state.aclFor(ctx.token);
  const data: JsonObject = {};
  for (const p of paths) data[p] = acl.capabilities(ctx.ns.path + p.replace(/^\/+/, ''));
  if (paths.length === 1) data.capabilities = data[paths[0] ?? ''];
  return topLevel(data);
}

export function handleSys(ctx: CallCtx): Outcome {
  const { state, op } = ctx;
  const p = ctx.path.slice('sys/'.length);
  let m: RegExpExecArray | null;
  if (p === 'capabilities-self') return capabilitiesSelf(ctx);
  if ((m = /^policy\/?(.*)$/.exec(p))) return policies(ctx, false, m[1] ?? '');
  if ((m = /^policies\/acl\/?(.*)$/.exec(p))) return policies(ctx, true, m[1] ?? '');
  if ((m = /^mounts\/?(.*)$/.exec(p))) return mounts(ctx, m[1] ?? '');
  if (p === 'seal') {
    if (!isWrite(op)) return unsupportedOp();
    state.sealed = true;
    return nothing();
  }
  if (p === 'wrapping/wrap') {
    if (!isWrite(op)) return unsupportedOp();
    if (ctx.wrapTtl <= 0) return fail('wrapping TTL must be specified');
    return ok(ctx.data);
  }
  if ((m = /^namespaces\/?(.*)$/.exec(p))) {
    const name = (m[1] ?? '').replace(/\/+$/, '');
    if (name === '') {
      const keys = [...state.namespaces.keys()].filter((k) => k !== '' && k.startsWith(ctx.ns.path));
      return ok({ keys: keys.map((k) => k.slice(ctx.ns.path.length)).sort(byteCompare) });
    }
    if (isWrite(op)) {
      const created = state.createNamespace(ctx.ns.path + name);
      return ok({ id: created.path, path: created.path });
    }
    if (op === 'delete') {
      state.namespaces.delete(`${ctx.ns.path}${name}/`);
      return nothing();
    }
    const ns = state.namespace(ctx.ns.path + name);
    return ns ? ok({ id: ns.path, path: ns.path }) : nothing();
  }
  return unsupportedPath();
}

// ---- auth/token/ ----

function tokenCreate(ctx: CallCtx): Outcome {
  const { state, data, token: parent } = ctx;
  const parsed = parseFields(data, {
    policies: 'stringSlice',
    ttl: 'duration',
    explicit_max_ttl: 'duration',
    renewable: 'bool',
    num_uses: 'int',
    no_default_policy: 'bool',
    meta: 'map',
    display_name: 'string',
  });
  if ('error' in parsed) return { kind: 'error', status: 400, messages: [multiError(parsed.error)] };
  const f = parsed.fields;
  const isRoot = parent.policies.includes('root');
  let wanted = (f.get('policies') as string[] | undefined) ?? [];
  if (wanted.length === 0) wanted = parent.policies.filter((p) => p !== 'default');
  if (!isRoot) {
    const child = sanitizePolicies(wanted, false);
    if (child.includes('root') || !child.every((p) => parent.policies.includes(p))) {
      return fail('child policies must be subset of parent');
    }
  }
  const secs = (k: string): number | undefined => {
    const v = f.get(k) as bigint | undefined;
    return v === undefined ? undefined : Number(v / NS_PER_S);
  };
  const display = f.get('display_name') as string | undefined;
  const entry = state.tokens.create(
    {
      policies: wanted,
      ttl: secs('ttl'),
      explicitMaxTtl: secs('explicit_max_ttl'),
      renewable: f.get('renewable') as boolean | undefined,
      numUses: f.get('num_uses') as number | undefined,
      noDefaultPolicy: f.get('no_default_policy') as boolean | undefined,
      meta: (f.get('meta') as Record<string, string> | null | undefined) ?? null,
      displayName: display ? `token-${display}` : 'token',
      path: 'auth/token/create',
    },
    ctx.now,
  );
  return respond({ data: null, auth: state.tokens.authBlock(entry, ctx.now) });
}

export function handleToken(ctx: CallCtx): Outcome {
  const { state, op, token, now } = ctx;
  const p = ctx.path.slice('auth/token/'.length);
  switch (p) {
    case 'create':
    case 'create-orphan':
      return isWrite(op) ? tokenCreate(ctx) : unsupportedOp();
    case 'lookup-self':
      return op === 'read' || isWrite(op) ? ok(state.tokens.lookupData(token, now)) : unsupportedOp();
    case 'lookup': {
      if (!isWrite(op)) return unsupportedOp();
      const other = state.tokens.lookup(String(ctx.data.token ?? ''), now);
      return other ? ok(state.tokens.lookupData(other, now)) : fail('bad token', 403);
    }
    case 'renew-self': {
      if (!isWrite(op)) return unsupportedOp();
      const parsed = parseFields(ctx.data, { increment: 'duration' });
      if ('error' in parsed) return { kind: 'error', status: 400, messages: [multiError(parsed.error)] };
      const inc = parsed.fields.get('increment') as bigint | undefined;
      const r = state.tokens.renew(token, inc === undefined ? undefined : Number(inc / NS_PER_S), now);
      if (typeof r === 'string') return fail(r);
      return respond({
        data: null,
        auth: state.tokens.authBlock(token, now),
        ...(r.warnings.length > 0 ? { warnings: r.warnings } : {}),
      });
    }
    case 'revoke-self':
      if (!isWrite(op)) return unsupportedOp();
      state.tokens.revoke(token.id);
      return nothing();
    default:
      return unsupportedPath();
  }
}
