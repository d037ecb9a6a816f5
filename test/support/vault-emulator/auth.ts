// Login methods: AppRole, Kubernetes and JWT. Kubernetes/JWT trust tokens signed by a key the emulator
// generates (no TokenReview, no OIDC discovery). Logins return token options; the core mints the token.
import { randomUUID } from 'node:crypto';
import { generateKeyPair, jwtVerify, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { fail, nothing, ok, type LogicalRequest, type Outcome } from './types.js';
import type { CreateTokenOptions } from './tokens.js';
import { byteCompare, isObject, NS_PER_S, parseDuration, randomId, type JsonObject } from './util.js';

export type AuthType = 'approle' | 'kubernetes' | 'jwt';

export interface AppRoleSpec {
  name: string;
  roleId?: string;
  secretId?: string;
  policies: string[];
  /** Token TTL: seconds or Go duration. */
  ttl?: number | string;
  numUses?: number;
  /** Auth mount path (default: the first AppRole mount, normally `approle`). */
  mount?: string;
}

export interface JwtRoleSpec {
  /** Auth mount path; its type (kubernetes or jwt) decides the login rules. */
  mount: string;
  name: string;
  policies: string[];
  ttl?: number | string;
  /** JWT: required `sub`. */
  boundSubject?: string;
  /** JWT: accepted `aud` values; Kubernetes: the role's single `audience`. */
  boundAudiences?: string[];
  /** JWT: claim → allowed value(s). */
  boundClaims?: Record<string, string | string[]>;
  /** JWT: claim naming the user (default `sub`). */
  userClaim?: string;
  /** JWT: use this role when the login names none. */
  isDefault?: boolean;
  /** Kubernetes: bound service account names (globs; `*` = any). */
  boundServiceAccountNames?: string[];
  /** Kubernetes: bound service account namespaces (globs; `*` = any). */
  namespaces?: string[];
}

interface AppRole {
  name: string;
  roleId: string;
  secretIds: Map<string, string>;
  policies: string[];
  ttl: number;
  numUses: number;
}

export type LoginResult = { token: CreateTokenOptions; metadata: Record<string, string> } | Outcome;

const ALGS = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512'];
const ttlSeconds = (v: number | string | undefined): number =>
  v === undefined ? 0 : Number(parseDuration(v) / NS_PER_S);
const glob = (patterns: string[], value: string): boolean =>
  patterns.some((p) =>
    new RegExp(
      `^${p
        .split('*')
        .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*')}$`,
    ).test(value),
  );
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** Service-account claims in the legacy (secret-based) token format; merge extra claims as needed. */
export function serviceAccountClaims(sa: { namespace: string; name: string; uid?: string }): JsonObject {
  return {
    iss: 'kubernetes/serviceaccount',
    sub: `system:serviceaccount:${sa.namespace}:${sa.name}`,
    'kubernetes.io/serviceaccount/namespace': sa.namespace,
    'kubernetes.io/serviceaccount/service-account.name': sa.name,
    'kubernetes.io/serviceaccount/service-account.uid': sa.uid ?? '00000000-0000-4000-8000-000000000001',
    'kubernetes.io/serviceaccount/secret.name': `${sa.name}-token`,
  };
}

export class AuthMethods {
  readonly mounts = new Map<string, AuthType>();
  private readonly approles = new Map<string, Map<string, AppRole>>();
  private readonly jwtRoles = new Map<string, Map<string, JwtRoleSpec>>();
  private readonly defaultRoles = new Map<string, string>();
  private keys?: Promise<{ trusted: CryptoKey; trustedPub: CryptoKey; other: CryptoKey }>;

  enable(path: string, type: AuthType): void {
    this.mounts.set(path.replace(/^\/+|\/+$/g, ''), type);
  }

  private mountOf(type: AuthType, mount?: string): string {
    if (mount !== undefined) {
      const m = mount.replace(/^\/+|\/+$/g, '').replace(/^auth\//, '');
      if (this.mounts.get(m) !== type) throw new Error(`no ${type} auth mount at "${m}"`);
      return m;
    }
    for (const [m, t] of this.mounts) if (t === type) return m;
    throw new Error(`no ${type} auth mount`);
  }

  addAppRole(spec: AppRoleSpec): { roleId: string; secretId: string } {
    const mount = this.mountOf('approle', spec.mount);
    const roles = this.approles.get(mount) ?? new Map<string, AppRole>();
    this.approles.set(mount, roles);
    const role: AppRole = {
      name: spec.name,
      roleId: spec.roleId ?? randomUUID(),
      secretIds: new Map(),
      policies: spec.policies,
      ttl: ttlSeconds(spec.ttl),
      numUses: spec.numUses ?? 0,
    };
    const secretId = spec.secretId ?? randomUUID();
    role.secretIds.set(secretId, randomId(24));
    roles.set(spec.name, role);
    return { roleId: role.roleId, secretId };
  }

  /** Issues another secret id for a role (as `POST auth/approle/role/<name>/secret-id` does). */
  newSecretId(
    roleName: string,
    mount?: string,
  ): { secret_id: string; secret_id_accessor: string } | undefined {
    const role = this.approles.get(this.mountOf('approle', mount))?.get(roleName);
    if (!role) return undefined;
    const id = randomUUID();
    const accessor = randomUUID();
    role.secretIds.set(id, accessor);
    return { secret_id: id, secret_id_accessor: accessor };
  }

  addJwtRole(spec: JwtRoleSpec): void {
    const mount = spec.mount.replace(/^\/+|\/+$/g, '').replace(/^auth\//, '');
    const type = this.mounts.get(mount);
    if (type !== 'jwt' && type !== 'kubernetes')
      throw new Error(`no jwt or kubernetes auth mount at "${mount}"`);
    const roles = this.jwtRoles.get(mount) ?? new Map<string, JwtRoleSpec>();
    this.jwtRoles.set(mount, roles);
    roles.set(spec.name.toLowerCase(), { ...spec, mount });
    if (spec.isDefault) this.defaultRoles.set(mount, spec.name.toLowerCase());
  }

  private loadKeys() {
    this.keys ??= (async () => {
      const a = await generateKeyPair('ES256');
      const b = await generateKeyPair('ES256');
      return { trusted: a.privateKey, trustedPub: a.publicKey, other: b.privateKey };
    })();
    return this.keys;
  }

  /** Signs claims with the trusted test key (or an untrusted one); adds iat/exp (+5 min) when absent. */
  async signJwt(claims: JsonObject, opts: { untrusted?: boolean; nowSec?: number } = {}): Promise<string> {
    const keys = await this.loadKeys();
    const now = opts.nowSec ?? Math.floor(Date.now() / 1000);
    const payload: JWTPayload = { iat: now, exp: now + 300, ...claims };
    return new SignJWT(payload)
      .setProtectedHeader({ alg: 'ES256', kid: 'certvault-test' })
      .sign(opts.untrusted ? keys.other : keys.trusted);
  }

  isLoginPath(path: string): string | undefined {
    const m = /^auth\/(.+)\/login$/.exec(path);
    return m && this.mounts.has(m[1] ?? '') ? m[1] : undefined;
  }

  async login(mount: string, data: JsonObject, now: bigint): Promise<LoginResult> {
    switch (this.mounts.get(mount)) {
      case 'approle':
        return this.approleLogin(mount, data);
      case 'kubernetes':
        return this.kubernetesLogin(mount, data, now);
      default:
        return this.jwtLogin(mount, data, now);
    }
  }

  private approleLogin(mount: string, data: JsonObject): LoginResult {
    const roleId = str(data.role_id);
    if (!roleId) return fail('missing role_id');
    const role = [...(this.approles.get(mount)?.values() ?? [])].find((r) => r.roleId === roleId);
    const secretId = str(data.secret_id);
    if (role && !secretId) return fail('missing secret_id');
    if (!role || !role.secretIds.has(secretId)) return fail('invalid role or secret ID');
    return {
      token: {
        policies: role.policies,
        ttl: role.ttl,
        numUses: role.numUses,
        displayName: mount,
        orphan: true,
      },
      metadata: { role_name: role.name },
    };
  }

  private async verify(jwt: string, now: bigint) {
    const keys = await this.loadKeys();
    return jwtVerify(jwt, keys.trustedPub, {
      algorithms: ALGS,
      currentDate: new Date(Number(now / 1_000_000n)),
    });
  }

  private async kubernetesLogin(mount: string, data: JsonObject, now: bigint): Promise<LoginResult> {
    const roleName = str(data.role);
    if (!roleName) return fail('missing role');
    const jwt = str(data.jwt);
    if (!jwt) return fail('missing jwt');
    const role = this.jwtRoles.get(mount)?.get(roleName.toLowerCase());
    if (!role) return fail(`invalid role name "${roleName}"`);
    let claims: JWTPayload;
    try {
      const aud = role.boundAudiences?.[0];
      claims = (await this.verify(jwt, now)).payload;
      if (aud && !(Array.isArray(claims.aud) ? claims.aud : [claims.aud]).includes(aud)) {
        return fail('invalid audience (aud) claim: audience claim does not match any expected audience', 403);
      }
    } catch {
      return fail('permission denied', 403);
    }
    const projected = isObject(claims['kubernetes.io']) ? claims['kubernetes.io'] : undefined;
    const sa = isObject(projected?.serviceaccount) ? projected.serviceaccount : undefined;
    const name = sa ? str(sa.name) : str(claims['kubernetes.io/serviceaccount/service-account.name']);
    const ns = projected ? str(projected.namespace) : str(claims['kubernetes.io/serviceaccount/namespace']);
    const uid = sa ? str(sa.uid) : str(claims['kubernetes.io/serviceaccount/service-account.uid']);
    const names = role.boundServiceAccountNames ?? [];
    if (!(names.length === 1 && names[0] === '*') && !glob(names, name)) {
      return fail('service account name not authorized', 403);
    }
    const namespaces = role.namespaces ?? [];
    if (!(namespaces[0] === '*' || glob(namespaces, ns))) return fail('namespace not authorized', 403);
    if (!uid) return fail('could not parse UID from claims', 500);
    return {
      token: {
        policies: role.policies,
        ttl: ttlSeconds(role.ttl),
        displayName: `${mount}-${ns}-${name}`,
        orphan: true,
      },
      metadata: {
        role: role.name,
        service_account_name: name,
        service_account_namespace: ns,
        service_account_secret_name: str(claims['kubernetes.io/serviceaccount/secret.name']),
        service_account_uid: uid,
      },
    };
  }

  private async jwtLogin(mount: string, data: JsonObject, now: bigint): Promise<LoginResult> {
    const roleName = str(data.role).toLowerCase() || this.defaultRoles.get(mount) || '';
    if (!roleName) return fail('missing role');
    const role = this.jwtRoles.get(mount)?.get(roleName);
    if (!role) return fail(`role "${roleName}" could not be found`);
    const jwt = str(data.jwt);
    if (!jwt) return fail('missing token');
    let claims: JWTPayload;
    try {
      claims = (await this.verify(jwt, now)).payload;
    } catch (e) {
      return fail(`error validating token: ${(e as Error).message}`);
    }
    if (claims.iat === undefined && claims.exp === undefined && claims.nbf === undefined) {
      return fail('no issue time, notbefore, or expiration time encoded in token');
    }
    const aud = claims.aud === undefined ? [] : Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    const bound = role.boundAudiences ?? [];
    if (aud.length > 0 && bound.length === 0) {
      return fail('audience claim found in JWT but no audiences bound to the role');
    }
    if (bound.length > 0 && !bound.some((b) => aud.includes(b))) {
      return fail('error validating claims: aud claim does not match any bound audience');
    }
    if (role.boundSubject && role.boundSubject !== claims.sub) {
      return fail('error validating claims: sub claim does not match bound subject');
    }
    for (const [k, want] of Object.entries(role.boundClaims ?? {})) {
      const allowed = Array.isArray(want) ? want : [want];
      if (!allowed.includes(String(claims[k]))) {
        return fail(`error validating claims: claim "${k}" does not match any associated bound claim values`);
      }
    }
    const userClaim = role.userClaim ?? 'sub';
    const user = claims[userClaim];
    if (user === undefined) return fail(`claim "${userClaim}" not found in token`);
    if (typeof user !== 'string') return fail(`claim "${userClaim}" could not be converted to string`);
    return {
      token: {
        policies: role.policies,
        ttl: ttlSeconds(role.ttl),
        displayName: `${mount}-${user}`,
        orphan: true,
      },
      metadata: { role: role.name },
    };
  }

  /** Non-login AppRole endpoints: role-id, secret-id, role list/create. */
  approleAdmin(mount: string, req: LogicalRequest): Outcome | { secretId: JsonObject } {
    const roles = this.approles.get(mount) ?? new Map<string, AppRole>();
    this.approles.set(mount, roles);
    const path = req.path;
    if (path === 'role/' && req.op === 'list') return ok({ keys: [...roles.keys()].sort(byteCompare) });
    let m = /^role\/([^/]+)\/role-id$/.exec(path);
    if (m && req.op === 'read') {
      const role = roles.get(m[1] ?? '');
      return role ? ok({ role_id: role.roleId }) : nothing();
    }
    m = /^role\/([^/]+)\/secret-id$/.exec(path);
    if (m && (req.op === 'update' || req.op === 'create')) {
      const created = this.newSecretId(m[1] ?? '', mount);
      if (!created) return fail(`role "${m[1] ?? ''}" does not exist`);
      return { secretId: { ...created, secret_id_num_uses: 0, secret_id_ttl: 0 } };
    }
    m = /^role\/([^/]+)$/.exec(path);
    if (m && (req.op === 'update' || req.op === 'create')) {
      const pol = req.data.token_policies ?? req.data.policies ?? [];
      const policies = Array.isArray(pol) ? pol.map(String) : String(pol).split(',').filter(Boolean);
      const name = m[1] ?? '';
      const existing = roles.get(name);
      const ttlRaw = req.data.token_ttl ?? req.data.ttl;
      roles.set(name, {
        name,
        roleId: existing?.roleId ?? randomUUID(),
        secretIds: existing?.secretIds ?? new Map(),
        policies,
        ttl: ttlRaw === undefined ? 0 : ttlSeconds(ttlRaw as string | number),
        numUses: Number(req.data.token_num_uses ?? 0),
      });
      return nothing();
    }
    return { kind: 'error', status: 404, messages: ['1 error occurred:\n\t* unsupported path\n\n'] };
  }
}
