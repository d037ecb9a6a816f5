// Everything the emulator remembers: namespaces with their mounts, tokens, policies, auth roles,
// response-wrapping tokens and the seal/standby state.
import { randomUUID } from 'node:crypto';
import { Acl, DEFAULT_POLICY, parsePolicy, type Policy } from './acl.js';
import { AuthMethods, type AuthType } from './auth.js';
import { KvV1Engine } from './kv1.js';
import { KvV2Engine, type KvV2Options } from './kv2.js';
import { TokenStore, type TokenEntry } from './tokens.js';
import type { LogicalResponse, MountEntry, WrapInfo } from './types.js';
import { Clock, formatTime, NS_PER_S, parseDuration, randomId } from './util.js';

export interface MountSpec extends KvV2Options {
  /** Mount path without slashes, e.g. `secret`. */
  path: string;
  version: 1 | 2;
  description?: string;
}

export interface Namespace {
  /** '' for the root namespace, else `a/b/` (with trailing slash). */
  path: string;
  mounts: Map<string, MountEntry>;
}

interface Wrapped {
  resp: LogicalResponse;
  expiresAt: bigint;
  info: WrapInfo;
}

export interface StateOptions {
  flavor: 'vault' | 'openbao';
  invalidTokenStyle: 'plain' | 'vault-1.17';
  mounts: MountSpec[];
  authMounts: Array<{ path: string; type: AuthType }>;
  rootToken?: string;
  version: string;
}

const trimSlashes = (p: string): string => p.replace(/^\/+|\/+$/g, '');

export class State {
  readonly clock = new Clock();
  readonly tokens = new TokenStore(parseDuration);
  readonly auth = new AuthMethods();
  readonly policies = new Map<string, Policy>();
  readonly namespaces = new Map<string, Namespace>();
  readonly wraps = new Map<string, Wrapped>();
  readonly rootToken: string;
  sealed = false;
  initialized = true;
  standby = false;
  activeAddress: string | undefined;

  constructor(readonly opts: StateOptions) {
    this.namespaces.set('', { path: '', mounts: new Map() });
    for (const m of opts.mounts) this.mount('', m);
    for (const a of opts.authMounts) this.auth.enable(a.path, a.type);
    this.setPolicy('default', DEFAULT_POLICY);
    const root = this.tokens.create(
      { id: opts.rootToken, policies: ['root'], path: 'auth/token/root', displayName: 'root', orphan: true },
      this.clock.now(),
    );
    this.rootToken = root.id;
  }

  now(): bigint {
    return this.clock.now();
  }

  createNamespace(path: string): Namespace {
    const key = `${trimSlashes(path)}/`;
    let ns = this.namespaces.get(key);
    if (!ns) {
      // Unlike a real namespace, a new one gets the configured KV mounts so tests can use it directly.
      ns = { path: key, mounts: new Map() };
      this.namespaces.set(key, ns);
      for (const m of this.opts.mounts) this.mount(key, m);
    }
    return ns;
  }

  namespace(path: string): Namespace | undefined {
    const t = trimSlashes(path);
    return this.namespaces.get(t === '' ? '' : `${t}/`);
  }

  mount(nsPath: string, spec: MountSpec): MountEntry {
    const ns = this.namespace(nsPath) ?? this.createNamespace(nsPath);
    const path = `${trimSlashes(spec.path)}/`;
    if ([...ns.mounts.keys()].some((m) => m.startsWith(path) || path.startsWith(m))) {
      throw new Error(`path is already in use at ${path}`);
    }
    const entry: MountEntry = {
      path,
      type: 'kv',
      description: spec.description ?? (spec.version === 2 ? 'key/value secret storage' : ''),
      accessor: `kv_${randomId(8).toLowerCase()}`,
      uuid: randomUUID(),
      options: { version: String(spec.version) },
      engine:
        spec.version === 2
          ? new KvV2Engine(this.opts.flavor === 'openbao' ? 'bao' : 'vault', spec)
          : new KvV1Engine(),
    };
    ns.mounts.set(path, entry);
    return entry;
  }

  unmount(nsPath: string, path: string): void {
    this.namespace(nsPath)?.mounts.delete(`${trimSlashes(path)}/`);
  }

  /** Longest mount prefix of `path` (retrying with a trailing slash, as Vault's router does). */
  findMount(ns: Namespace, path: string): { mount: MountEntry; rel: string } | undefined {
    for (const candidate of [path, `${path}/`]) {
      let best: MountEntry | undefined;
      for (const m of ns.mounts.values()) {
        if (candidate.startsWith(m.path) && (!best || m.path.length > best.path.length)) best = m;
      }
      if (best) return { mount: best, rel: candidate.slice(best.path.length) };
    }
    return undefined;
  }

  setPolicy(name: string, text: string): void {
    const n = name.toLowerCase();
    if (n === 'root') throw new Error('cannot update "root" policy');
    this.policies.set(n, parsePolicy(n, text));
  }

  aclFor(entry: TokenEntry): Acl {
    if (entry.policies.includes('root')) return new Acl([], true);
    const pols = entry.policies.map((p) => this.policies.get(p)).filter((p): p is Policy => p !== undefined);
    return new Acl(pols);
  }

  /** Stores a response behind a single-use wrapping token. */
  wrap(resp: LogicalResponse, ttlSec: number, creationPath: string): WrapInfo {
    const now = this.now();
    const info: WrapInfo = {
      token: `hvs.${randomId(24)}`,
      accessor: randomId(24),
      ttl: ttlSec,
      creation_time: formatTime(now),
      creation_path: creationPath,
    };
    this.wraps.set(info.token, { resp, expiresAt: now + BigInt(ttlSec) * NS_PER_S, info });
    return info;
  }

  /** Takes (and invalidates) a wrapped response; undefined if unknown, used or expired. */
  unwrap(token: string | undefined): LogicalResponse | undefined {
    if (!token) return undefined;
    const w = this.wraps.get(token);
    if (!w) return undefined;
    this.wraps.delete(token);
    return w.expiresAt > this.now() ? w.resp : undefined;
  }

  isWrappingToken(token: string | undefined): boolean {
    const w = token ? this.wraps.get(token) : undefined;
    return w !== undefined && w.expiresAt > this.now();
  }
}
