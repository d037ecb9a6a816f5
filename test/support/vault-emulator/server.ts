// The HTTP face of the emulator (node:http on 127.0.0.1) and its test-facing API.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { serviceAccountClaims, type AppRoleSpec, type AuthType, type JwtRoleSpec } from './auth.js';
import { Core, type Reply } from './core.js';
import { Faults, seededRandom, type FaultHandle, type FaultSpec, type LoggedRequest } from './faults.js';
import { State, type MountSpec, type Namespace } from './state.js';
import { health, leader, sealStatus } from './sys.js';
import type { CreateTokenOptions } from './tokens.js';
import type { Operation } from './types.js';
import { goJson, isObject, NS_PER_S, parseDuration, parseGoBool, type JsonObject } from './util.js';

export interface VaultEmulatorOptions {
  /** TCP port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** Root token id; generated (`hvs.…`) when absent. */
  rootToken?: string;
  /** KV mounts of the root namespace; default `secret/` as KV v2 (like a dev server). */
  mounts?: MountSpec[];
  /** Auth method mounts; default `approle`, `kubernetes` and `jwt`. */
  authMounts?: Array<{ path: string; type: AuthType }>;
  /** Namespaces to create up front (each gets the configured KV mounts). */
  namespaces?: string[];
  /** Create unknown namespaces named by `X-Vault-Namespace` instead of answering 404. */
  autoCreateNamespaces?: boolean;
  /** `vault-1.17`: bad tokens get `["permission denied","invalid token"]`. */
  invalidTokenStyle?: 'plain' | 'vault-1.17';
  /** `openbao`: no `mount_type`, OpenBao wording in a few messages. */
  flavor?: 'vault' | 'openbao';
  /** Seed for fault ratios (default: random). */
  faultSeed?: number;
  /** Version reported by sys/health. */
  version?: string;
}

interface Prepared {
  label: string;
  path: string;
  ns: Namespace;
  nsLabel: string;
}

const JSON_HEADERS = { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' };
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const errorReply = (status: number, messages: string[]): Reply => ({
  status,
  headers: {},
  body: `${goJson({ errors: messages })}\n`,
});

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export class VaultEmulator {
  readonly requests: LoggedRequest[] = [];
  /** Request counts keyed `"<METHOD> <path kind>"`, e.g. `"GET secret/data"`, `"LIST secret/metadata"`. */
  readonly counters = new Map<string, number>();
  private readonly state: State;
  private readonly core: Core;
  private readonly faults: Faults;
  private server?: Server;
  private address = '';

  private constructor(private readonly opts: VaultEmulatorOptions) {
    this.state = new State({
      flavor: opts.flavor ?? 'vault',
      invalidTokenStyle: opts.invalidTokenStyle ?? 'plain',
      mounts: opts.mounts ?? [{ path: 'secret', version: 2 }],
      authMounts: opts.authMounts ?? [
        { path: 'approle', type: 'approle' },
        { path: 'kubernetes', type: 'kubernetes' },
        { path: 'jwt', type: 'jwt' },
      ],
      rootToken: opts.rootToken,
      version: opts.version ?? '1.19.0',
    });
    for (const ns of opts.namespaces ?? []) this.state.createNamespace(ns);
    this.core = new Core(this.state);
    this.faults = new Faults(seededRandom(opts.faultSeed ?? Math.floor(Math.random() * 2 ** 32)));
  }

  static async start(opts: VaultEmulatorOptions = {}): Promise<VaultEmulator> {
    const emu = new VaultEmulator(opts);
    const server = createServer((req, res) => {
      emu.onRequest(req, res).catch((err: unknown) => {
        if (!res.headersSent) {
          res.writeHead(500, JSON_HEADERS);
          res.end(`${goJson({ errors: [String((err as Error).message ?? err)] })}\n`);
        }
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
    });
    emu.server = server;
    emu.address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return emu;
  }

  /** Base address, e.g. `http://127.0.0.1:41234` (no trailing slash). */
  get addr(): string {
    return this.address;
  }

  get rootToken(): string {
    return this.state.rootToken;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  // ---- request log and faults ----

  resetLog(): void {
    this.requests.length = 0;
    this.counters.clear();
  }

  addFault(spec: FaultSpec): FaultHandle {
    return this.faults.add(spec);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  // ---- server state ----

  seal(): void {
    this.state.sealed = true;
  }

  unseal(): void {
    this.state.sealed = false;
  }

  get sealed(): boolean {
    return this.state.sealed;
  }

  /** Standby node: health answers 429; other requests get a 307 to `activeAddress`, or 503 without one. */
  setStandby(standby: boolean, activeAddress?: string): void {
    this.state.standby = standby;
    this.state.activeAddress = activeAddress?.replace(/\/+$/, '');
  }

  setInitialized(initialized: boolean): void {
    this.state.initialized = initialized;
  }

  /** Moves the emulator's clock forward (token expiry, deletion times, JWT validation). */
  advanceTime(ms: number): void {
    this.state.clock.advance(ms);
  }

  // ---- mounts and namespaces ----

  mount(spec: MountSpec, namespace = ''): void {
    this.state.mount(namespace, spec);
  }

  unmount(path: string, namespace = ''): void {
    this.state.unmount(namespace, path);
  }

  createNamespace(path: string): void {
    this.state.createNamespace(path);
  }

  enableAuth(path: string, type: AuthType): void {
    this.state.auth.enable(path, type);
  }

  // ---- tokens, policies, logins ----

  createToken(opts: CreateTokenOptions = {}): string {
    return this.state.tokens.create(opts, this.state.now()).id;
  }

  /** Sets an ACL policy from HCL (or JSON) text; throws on a parse error. */
  setPolicy(name: string, hcl: string): void {
    this.state.setPolicy(name, hcl);
  }

  deletePolicy(name: string): void {
    this.state.policies.delete(name.toLowerCase());
  }

  addAppRole(spec: AppRoleSpec): { roleId: string; secretId: string } {
    return this.state.auth.addAppRole(spec);
  }

  /** A fresh secret id for an AppRole role, wrapped: returns the single-use wrapping token. */
  wrappedSecretId(roleName: string, ttlSec = 300): string {
    const s = this.state.auth.newSecretId(roleName);
    if (!s) throw new Error(`unknown AppRole role ${roleName}`);
    const data = { ...s, secret_id_num_uses: 0, secret_id_ttl: 0 };
    const mount = [...this.state.auth.mounts].find(([, t]) => t === 'approle')?.[0] ?? 'approle';
    return this.state.wrap({ data }, ttlSec, `auth/${mount}/role/${roleName}/secret-id`).token;
  }

  addJwtRole(spec: JwtRoleSpec): void {
    this.state.auth.addJwtRole(spec);
  }

  /** Signs a JWT with the key the Kubernetes and JWT auth mounts trust (`untrusted`: a different key). */
  signJwt(claims: JsonObject, opts: { untrusted?: boolean } = {}): Promise<string> {
    const nowSec = Number(this.state.now() / NS_PER_S);
    return this.state.auth.signJwt(claims, { ...opts, nowSec });
  }

  /** A Kubernetes service-account JWT signed with the trusted key. */
  serviceAccountJwt(
    sa: { namespace: string; name: string; uid?: string },
    extra: JsonObject = {},
  ): Promise<string> {
    return this.signJwt({ ...serviceAccountClaims(sa), ...extra });
  }

  /** Wraps `data` as Vault response wrapping does; unwrap with `POST sys/wrapping/unwrap`. */
  wrap(data: JsonObject, ttlSec = 300): string {
    return this.state.wrap({ data }, ttlSec, 'sys/wrapping/wrap').token;
  }

  // ---- HTTP ----

  private kind(ns: Namespace, path: string): string {
    if (path.startsWith('sys/')) return path.split('/').slice(0, 2).join('/');
    if (path.startsWith('auth/')) return path.split('/').slice(0, 3).join('/');
    const found = this.state.findMount(ns, path);
    if (!found) return path.split('/')[0] ?? '';
    if (found.mount.options?.version === '2') return `${found.mount.path}${found.rel.split('/')[0] ?? ''}`;
    return found.mount.path;
  }

  private prepare(req: IncomingMessage, url: URL): Prepared | Reply {
    if (!url.pathname.startsWith('/v1/')) {
      return {
        status: 404,
        headers: { 'Content-Type': 'text/plain; charset=utf-8' },
        body: '404 page not found\n',
      };
    }
    let full: string;
    try {
      full = decodeURIComponent(url.pathname.slice(4));
    } catch {
      return errorReply(400, ['invalid URL escape']);
    }
    const list = url.searchParams.get('list');
    const label =
      req.method === 'GET' && list !== null && parseGoBool(list) === true ? 'LIST' : (req.method ?? '');
    const nsHeader = header(req, 'x-vault-namespace')?.replace(/^\/+|\/+$/g, '') ?? '';
    if (nsHeader !== '' && !this.state.namespace(nsHeader)) {
      if (!this.opts.autoCreateNamespaces) return errorReply(404, ['namespace not found']);
      this.state.createNamespace(nsHeader);
    }
    const combined = nsHeader === '' ? full : `${nsHeader}/${full}`;
    let ns = this.state.namespace('') as Namespace;
    for (const candidate of this.state.namespaces.values()) {
      if (
        candidate.path !== '' &&
        combined.startsWith(candidate.path) &&
        candidate.path.length > ns.path.length
      ) {
        ns = candidate;
      }
    }
    return { label, path: combined.slice(ns.path.length), ns, nsLabel: ns.path.replace(/\/$/, '') };
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const t0 = performance.now();
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const nsEcho = header(req, 'x-vault-namespace');
    const prepared = this.prepare(req, url);
    const isPrepared = !('status' in prepared);
    const entry: LoggedRequest = {
      method: isPrepared ? prepared.label : (req.method ?? ''),
      path: isPrepared ? prepared.path : url.pathname.replace(/^\/v1\//, ''),
      query: Object.fromEntries(url.searchParams),
      status: 0,
      namespace: isPrepared ? prepared.nsLabel : (nsEcho ?? ''),
      ms: 0,
    };
    const finish = (reply: Reply | null): void => {
      entry.ms = Math.round((performance.now() - t0) * 1000) / 1000;
      entry.status = reply?.status ?? 0;
      this.requests.push(entry);
      const key = `${entry.method} ${isPrepared ? this.kind(prepared.ns, prepared.path) : entry.path}`;
      this.counters.set(key, (this.counters.get(key) ?? 0) + 1);
      if (!reply) {
        req.socket.destroy();
        return;
      }
      const headers: Record<string, string> = { ...JSON_HEADERS, ...reply.headers };
      if (nsEcho !== undefined) headers['X-Vault-Namespace'] = nsEcho;
      res.writeHead(reply.status, headers);
      res.end(req.method === 'HEAD' || reply.status === 204 ? undefined : reply.body);
    };

    const decision = this.faults.decide(entry.method, entry.path);
    if (decision.latencyMs > 0) await sleep(decision.latencyMs);
    const fault = decision.answer;
    if (fault?.dropConnection) return finish(null);
    if (fault?.status !== undefined) {
      const b = fault.body;
      const text =
        b === undefined
          ? `${goJson({ errors: ['injected fault'] })}\n`
          : typeof b === 'string'
            ? b
            : `${goJson(b)}\n`;
      return finish({ status: fault.status, headers: {}, body: text });
    }
    if (!isPrepared) return finish(prepared);
    finish(await this.dispatch(req, url, body, prepared));
  }

  private async dispatch(req: IncomingMessage, url: URL, body: Buffer, p: Prepared): Promise<Reply> {
    const method = req.method ?? '';
    if (!METHODS.has(method)) return errorReply(405, []);
    const { state } = this;
    const render = this.core.render.bind(this.core);
    const status = (outcome: ReturnType<typeof health>): Reply =>
      render({ outcome, op: 'read', mountType: '' });
    if (p.path === 'sys/health' && (method === 'GET' || method === 'HEAD')) {
      return status(health(state, method === 'HEAD', url.searchParams));
    }
    if (p.path === 'sys/seal-status' && method === 'GET') return status(sealStatus(state));
    if (p.path === 'sys/leader' && method === 'GET') return status(leader(state, this.addr));
    if (p.path === 'sys/unseal' && (method === 'PUT' || method === 'POST')) {
      state.sealed = false;
      return status(sealStatus(state));
    }
    if (state.sealed || !state.initialized) return errorReply(503, ['Vault is sealed']);
    if (state.standby) {
      if (!state.activeAddress) return errorReply(503, ['no active Vault instance found']);
      return {
        status: 307,
        headers: { Location: `${state.activeAddress}${url.pathname}${url.search}` },
        body: '',
      };
    }

    let op: Operation;
    let data: JsonObject;
    let path = p.path;
    const query = (): JsonObject => {
      const q: JsonObject = {};
      for (const k of new Set(url.searchParams.keys())) {
        if (k === 'list' || k === 'help') continue;
        const all = url.searchParams.getAll(k);
        q[k] = all.length === 1 ? all[0] : all;
      }
      return q;
    };
    if (method === 'GET') {
      const list = url.searchParams.get('list');
      const isList = list === null ? false : parseGoBool(list);
      if (isList === undefined) return errorReply(400, []);
      op = isList ? 'list' : 'read';
      if (isList && !path.endsWith('/')) path += '/';
      data = query();
    } else if (method === 'HEAD' || method === 'DELETE') {
      op = method === 'HEAD' ? 'header' : 'delete';
      data = query();
    } else {
      if (method === 'PATCH') {
        const ct = header(req, 'content-type');
        const mediaType = ct?.split(';')[0]?.trim().toLowerCase() ?? '';
        if (mediaType === '') return errorReply(400, ['mime: no media type']);
        if (mediaType !== 'application/merge-patch+json') {
          return errorReply(415, [
            `PATCH requires Content-Type of application/merge-patch+json, provided ${mediaType}`,
          ]);
        }
      }
      const parsed = this.parseBody(body, method === 'PATCH' ? undefined : header(req, 'content-type'));
      if ('status' in parsed) return parsed;
      data = parsed.data;
      op = method === 'PATCH' ? 'patch' : 'update';
    }

    let wrapTtl = 0;
    const wrapHeader = header(req, 'x-vault-wrap-ttl');
    if (wrapHeader) {
      try {
        wrapTtl = Number(parseDuration(wrapHeader) / NS_PER_S);
      } catch (e) {
        return errorReply(400, [`error parsing X-Vault-Wrap-TTL header: ${(e as Error).message}`]);
      }
    }
    const auth = header(req, 'authorization');
    const token = header(req, 'x-vault-token') ?? (auth?.startsWith('Bearer ') ? auth.slice(7) : undefined);
    const result = await this.core.handle({ ns: p.ns, path, op, data, headers: req.headers, token, wrapTtl });
    return render(result);
  }

  /** JSON whatever the Content-Type, except real form bodies; empty body = no data. */
  private parseBody(buf: Buffer, contentType: string | undefined): { data: JsonObject } | Reply {
    const text = buf.toString('utf8');
    const start = text.trimStart();
    if (contentType?.toLowerCase().startsWith('application/x-www-form-urlencoded') && !/^[{[]/.test(start)) {
      return { data: Object.fromEntries(new URLSearchParams(text)) };
    }
    if (start === '') return { data: {} };
    try {
      const v = JSON.parse(text) as unknown;
      if (v === null) return { data: {} };
      if (isObject(v)) return { data: v };
      throw new Error('json: cannot unmarshal into Go value of type map[string]interface {}');
    } catch (e) {
      return errorReply(400, [
        this.opts.flavor === 'openbao'
          ? `failed to decode JSON input: ${(e as Error).message}`
          : 'error parsing JSON',
      ]);
    }
  }
}
