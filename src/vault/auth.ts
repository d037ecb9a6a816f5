import { existsSync, readFileSync } from 'node:fs';
import { configError, errorText, usageError } from '../errors.js';
import { silentLogger, type Logger } from '../ops/log.js';
import type { VaultClient } from './client.js';
import { VaultError } from './errors.js';

/**
 * How certvault gets its Vault token: a given token (VAULT_TOKEN, a token file, ~/.vault-token) or a
 * login of its own (AppRole, Kubernetes, JWT). Secrets come from files or the environment only, are
 * read when logging in (Kubernetes tokens rotate) and are never logged or put in messages.
 */
export type AuthMethod = 'token' | 'approle' | 'kubernetes' | 'jwt';
export const AUTH_METHODS: AuthMethod[] = ['token', 'approle', 'kubernetes', 'jwt'];
export const DEFAULT_KUBERNETES_TOKEN_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** Flags (already merged with their environment variables by the CLI); env is the fallback here too. */
export interface AuthInput {
  method?: string | undefined;
  mount?: string | undefined;
  role?: string | undefined;
  roleIdFile?: string | undefined;
  secretIdFile?: string | undefined;
  secretIdWrapped?: boolean | undefined;
  jwtFile?: string | undefined;
  kubernetesTokenFile?: string | undefined;
}

/** A secret value and where it comes from (the source is safe to show, the value never). */
interface SecretSource {
  source: string;
  read(): string;
}

export type AuthPlan =
  | { method: 'token' }
  | { method: 'approle'; mount: string; roleId: SecretSource; secretId: SecretSource; wrapped: boolean }
  | { method: 'kubernetes' | 'jwt'; mount: string; role: string | undefined; jwt: SecretSource };

const env = (name: string): string | undefined => {
  const v = process.env[name] ?? process.env[name.replace(/^VAULT_/, 'BAO_')];
  return v === undefined || v === '' ? undefined : v;
};
const truthy = (v: string | undefined): boolean => v !== undefined && /^(1|true|yes|on)$/i.test(v);

function fromFile(path: string, what: string): SecretSource {
  return {
    source: `file ${path}`,
    read() {
      let text: string;
      try {
        text = readFileSync(path, 'utf8').trim();
      } catch (err) {
        throw configError(
          `cannot read the ${what} file ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
          'check the path and its permissions',
        );
      }
      if (!text) throw configError(`the ${what} file ${path} is empty`, `write the ${what} into it`);
      return text;
    },
  };
}

function fromEnv(name: string, what: string): SecretSource {
  return {
    source: name,
    read() {
      const v = env(name);
      if (!v) throw configError(`${name} is empty`, `set it to the ${what}`);
      return v;
    },
  };
}

/** Decides the method (given, or inferred from what is configured) and checks its inputs, before any I/O. */
export function resolveAuthPlan(input: AuthInput): AuthPlan {
  const roleIdFile = input.roleIdFile ?? env('CERTVAULT_VAULT_ROLE_ID_FILE');
  const secretIdFile = input.secretIdFile ?? env('CERTVAULT_VAULT_SECRET_ID_FILE');
  const role = input.role ?? env('CERTVAULT_VAULT_ROLE');
  const jwtFile = input.jwtFile ?? env('CERTVAULT_VAULT_JWT_FILE');
  const k8sFile =
    input.kubernetesTokenFile ??
    env('CERTVAULT_VAULT_KUBERNETES_TOKEN_FILE') ??
    DEFAULT_KUBERNETES_TOKEN_FILE;
  const roleId = roleIdFile
    ? fromFile(roleIdFile, 'AppRole role id')
    : env('VAULT_ROLE_ID')
      ? fromEnv('VAULT_ROLE_ID', 'AppRole role id')
      : undefined;
  const secretId = secretIdFile
    ? fromFile(secretIdFile, 'AppRole secret id')
    : env('VAULT_SECRET_ID')
      ? fromEnv('VAULT_SECRET_ID', 'AppRole secret id')
      : undefined;

  const given = input.method ?? env('CERTVAULT_VAULT_AUTH');
  let method: AuthMethod;
  if (given !== undefined) {
    if (!(AUTH_METHODS as string[]).includes(given))
      throw usageError(`invalid --vault-auth "${given}"`, `use one of ${AUTH_METHODS.join(', ')}`);
    method = given as AuthMethod;
  } else if (roleId && secretId) method = 'approle';
  else if (jwtFile && role) method = 'jwt';
  else if (role && existsSync(k8sFile)) method = 'kubernetes';
  else method = 'token';

  const mount = (input.mount ?? env('CERTVAULT_VAULT_AUTH_MOUNT') ?? method)
    .replace(/^\/+|\/+$/g, '')
    .replace(/^auth\//, '');
  if (method !== 'token' && (!mount || mount.split('/').some((s) => s === '' || s === '.' || s === '..'))) {
    throw usageError(`invalid --vault-auth-mount "${mount}"`, `use the auth mount path, e.g. ${method}`);
  }
  switch (method) {
    case 'token':
      return { method };
    case 'approle': {
      if (!roleId)
        throw configError('AppRole login needs a role id', 'set VAULT_ROLE_ID or --vault-role-id-file');
      if (!secretId)
        throw configError(
          'AppRole login needs a secret id',
          'set VAULT_SECRET_ID or --vault-secret-id-file (never on the command line)',
        );
      const wrapped = input.secretIdWrapped === true || truthy(env('CERTVAULT_VAULT_SECRET_ID_WRAPPED'));
      return { method, mount, roleId, secretId, wrapped };
    }
    case 'kubernetes':
      if (!role)
        throw configError('Kubernetes login needs a Vault role', 'set --vault-role or CERTVAULT_VAULT_ROLE');
      return { method, mount, role, jwt: fromFile(jwtFile ?? k8sFile, 'Kubernetes service account token') };
    case 'jwt':
      if (!jwtFile)
        throw configError('JWT login needs a token file', 'set --vault-jwt-file or CERTVAULT_VAULT_JWT_FILE');
      return { method, mount, role, jwt: fromFile(jwtFile, 'JWT') };
  }
}

/** The token given by the user (VAULT_TOKEN, token file, ~/.vault-token). */
export interface GivenToken {
  token: () => string | undefined;
  source: string;
  /** False for a Vault Agent sink: the Agent renews (or replaces) that token itself. */
  renewable: boolean;
}

interface Lease {
  ttlSec: number;
  renewable: boolean;
}

interface Scheduled extends Lease {
  /** When the token expires (ms since the epoch), to retry a failed refresh before that. */
  expiresAt: number;
}

/** Refresh at 2/3 of the lease, as Vault Agent does, so a slow request never meets an expired token. */
const REFRESH_AT = 2 / 3;
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Holds the current token for the client, logs in, renews the token before it expires (renew-self
 * at 2/3 of the lease, a new login when the lease cannot be renewed any more) and logs in again when
 * Vault rejects the token (the client then retries the request once).
 */
export class VaultAuth {
  readonly method: AuthMethod;
  private client: VaultClient | undefined;
  private current: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private loggingIn: Promise<void> | undefined;
  /** A response-wrapped secret id can be unwrapped once: keep the secret id for later logins. */
  private unwrappedSecretId: string | undefined;
  /** Lease of the last login, to notice when renewals hit the max TTL. */
  private loginTtlSec = 0;
  /** Observers for tests and metrics. */
  readonly counts = { logins: 0, renewals: 0 };

  constructor(
    private readonly plan: AuthPlan,
    private readonly given: GivenToken,
    private readonly logger: Logger = silentLogger,
  ) {
    this.method = plan.method;
  }

  bind(client: VaultClient): void {
    this.client = client;
  }

  /** The token for the next request. */
  token(): string | undefined {
    return this.plan.method === 'token' ? this.given.token() : this.current;
  }

  /** Where the token comes from, for `doctor` and messages (never a secret). */
  describe(): string {
    const p = this.plan;
    switch (p.method) {
      case 'token':
        return `token from ${this.given.source}`;
      case 'approle':
        return `AppRole login at auth/${p.mount} (role id from ${p.roleId.source}, secret id from ${p.secretId.source}${p.wrapped ? ', response-wrapped' : ''})`;
      default:
        return `${p.method === 'jwt' ? 'JWT' : 'Kubernetes'} login at auth/${p.mount}${p.role ? ` as role ${p.role}` : ''} (token from ${p.jwt.source})`;
    }
  }

  /** Logs in (login methods), or learns the given token's lease to renew it during long runs. */
  async start(): Promise<void> {
    if (this.plan.method !== 'token') return this.login();
    if (!this.given.renewable || !this.given.token()) return;
    try {
      const res = await this.vault().request({
        method: 'GET',
        path: 'auth/token/lookup-self',
        retry: 'unsent-only',
      });
      const d = (res.body as { data?: { ttl?: number; renewable?: boolean } }).data ?? {};
      this.schedule({ ttlSec: d.ttl ?? 0, renewable: d.renewable === true });
    } catch (err) {
      // Not fatal: the token may lack the default policy; requests will tell if it is unusable.
      this.logger.debug({ err: errorText(err) }, 'cannot look up the Vault token; it will not be renewed');
    }
  }

  /**
   * Called by the client when Vault rejected `used` as missing, expired or revoked. Returns true when
   * a fresh token is there to retry with; throws a clear error when there is nothing to log in with.
   */
  async recover(used: string | undefined, rejected: VaultError): Promise<boolean> {
    if (this.plan.method === 'token') {
      const missing = !this.given.token();
      const what = missing
        ? `no Vault token was found (looked at ${this.given.source})`
        : `the token from ${this.given.source} is expired, revoked or unknown`;
      throw new VaultError(`${rejected.message}: ${what}`, {
        status: rejected.status,
        path: rejected.path,
        errors: rejected.errors,
        usage: missing, // nothing configured to log in with: a set-up error (exit 2)
        hint: 'get a fresh token (vault login, or check the Vault Agent), or let certvault log in itself with --vault-auth approle|kubernetes|jwt (docs/security.md)',
      });
    }
    if (this.current !== used && this.current !== undefined) return true; // another request already logged in again
    this.logger.info({ method: this.plan.method }, 'Vault rejected the token; logging in again');
    await this.login();
    return true;
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private vault(): VaultClient {
    if (!this.client) throw new Error('VaultAuth used before bind()');
    return this.client;
  }

  private login(): Promise<void> {
    this.loggingIn ??= this.doLogin().finally(() => {
      this.loggingIn = undefined;
    });
    return this.loggingIn;
  }

  private async doLogin(): Promise<void> {
    const p = this.plan;
    if (p.method === 'token') return;
    const body =
      p.method === 'approle'
        ? { role_id: p.roleId.read(), secret_id: await this.secretId(p) }
        : { ...(p.role ? { role: p.role } : {}), jwt: p.jwt.read() };
    let res;
    try {
      res = await this.vault().request({
        method: 'POST',
        path: `auth/${p.mount}/login`,
        body,
        noToken: true,
        retry: 'unsent-only',
      });
    } catch (err) {
      if (!(err instanceof VaultError)) throw err;
      const detail = err.errors
        .map((e) =>
          e
            .replace(/\s+/g, ' ')
            .replace(/^1 error occurred: \* /, '')
            .trim(),
        )
        .join('; ');
      throw new VaultError(
        `Vault ${this.methodName()} login at auth/${p.mount} failed (${err.status}${detail ? `: ${detail}` : ''})`,
        {
          status: err.status,
          path: `auth/${p.mount}/login`,
          errors: err.errors,
          hint:
            err.status === 404 || err.status === 405
              ? 'check --vault-auth-mount and that the method is enabled there'
              : `check the ${this.credentialsName()} and the role (${this.describe()})`,
        },
      );
    }
    const auth = (
      res.body as {
        auth?: {
          client_token?: string;
          lease_duration?: number;
          renewable?: boolean;
          policies?: string[];
        } | null;
      }
    ).auth;
    if (!auth?.client_token)
      throw new VaultError(`Vault ${this.methodName()} login at auth/${p.mount} returned no token`, {
        status: res.status,
        path: `auth/${p.mount}/login`,
      });
    this.current = auth.client_token;
    this.counts.logins++;
    this.loginTtlSec = auth.lease_duration ?? 0;
    this.logger.debug(
      {
        method: p.method,
        mount: p.mount,
        policies: auth.policies ?? [],
        ttl: this.loginTtlSec,
        renewable: auth.renewable === true,
      },
      'logged in to Vault',
    );
    this.schedule({ ttlSec: this.loginTtlSec, renewable: auth.renewable === true });
  }

  private async secretId(p: Extract<AuthPlan, { method: 'approle' }>): Promise<string> {
    if (!p.wrapped) return p.secretId.read();
    if (this.unwrappedSecretId) return this.unwrappedSecretId;
    let res;
    try {
      // The wrapping token is its own credential: sent as the request token, never in a body or log.
      res = await this.vault().request({
        method: 'POST',
        path: 'sys/wrapping/unwrap',
        token: p.secretId.read(),
        retry: 'unsent-only',
      });
    } catch (err) {
      if (!(err instanceof VaultError)) throw err;
      throw new VaultError(
        `cannot unwrap the AppRole secret id from ${p.secretId.source} (${err.status}): the wrapping token is invalid, expired or already used`,
        {
          status: err.status,
          path: 'sys/wrapping/unwrap',
          errors: err.errors,
          hint: 'get a new wrapped secret id; if you did not unwrap it yourself, someone else may have: treat the secret id as compromised',
        },
      );
    }
    const sid = (res.body as { data?: { secret_id?: unknown } | null }).data?.secret_id;
    if (typeof sid !== 'string' || sid === '') {
      throw configError(
        `the wrapped value in ${p.secretId.source} holds no secret_id`,
        'wrap the answer of auth/approle/role/NAME/secret-id (vault write -wrap-ttl=… -f auth/approle/role/NAME/secret-id)',
      );
    }
    this.unwrappedSecretId = sid;
    return sid;
  }

  private schedule(lease: Lease): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (lease.ttlSec <= 0) return; // non-expiring token (root, or a period-less orphan)
    if (!lease.renewable && this.plan.method === 'token') return; // nothing certvault could do
    const scheduled = { ...lease, expiresAt: Date.now() + lease.ttlSec * 1000 };
    this.later(scheduled, lease.ttlSec * 1000 * REFRESH_AT);
  }

  private later(lease: Scheduled, delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.refresh(lease), Math.min(MAX_TIMER_MS, Math.max(100, delayMs)));
    this.timer.unref(); // never keeps a finished command alive
  }

  /** After a failed refresh (Vault unreachable for a moment): try again halfway to the expiry. */
  private retry(lease: Scheduled): void {
    const left = lease.expiresAt - Date.now();
    if (left > 1_000) this.later(lease, left / 2);
  }

  /** Renews when possible; logs in again when the token cannot be renewed or renewals hit the max TTL. */
  private async refresh(lease: Scheduled): Promise<void> {
    const canLogin = this.plan.method !== 'token';
    if (lease.renewable) {
      try {
        const res = await this.vault().request({
          method: 'POST',
          path: 'auth/token/renew-self',
          body: {},
          retry: 'unsent-only',
        });
        const auth =
          (res.body as { auth?: { lease_duration?: number; renewable?: boolean } | null }).auth ?? {};
        const ttlSec = auth.lease_duration ?? 0;
        this.counts.renewals++;
        this.logger.debug({ ttl: ttlSec }, 'renewed the Vault token');
        // Capped by the max TTL: the next step is a new login while the token still works.
        if (canLogin && ttlSec < this.loginTtlSec / 2) this.schedule({ ttlSec, renewable: false });
        else if (ttlSec > 1) this.schedule({ ttlSec, renewable: auth.renewable === true });
        return;
      } catch (err) {
        this.logger.info(
          { err: errorText(err) },
          canLogin ? 'cannot renew the Vault token; logging in again' : 'cannot renew the Vault token',
        );
        if (!canLogin) return this.retry(lease);
      }
    }
    if (!canLogin) return;
    try {
      await this.login();
    } catch (err) {
      // The current token may still work for a while; try again, and a rejected request logs in anyway.
      this.logger.warn({ err: errorText(err) }, 'Vault login failed while refreshing the token');
      this.retry(lease);
    }
  }

  private methodName(): string {
    return this.plan.method === 'approle' ? 'AppRole' : this.plan.method === 'jwt' ? 'JWT' : 'Kubernetes';
  }

  private credentialsName(): string {
    return this.plan.method === 'approle'
      ? 'role id and secret id'
      : this.plan.method === 'jwt'
        ? 'JWT'
        : 'service account token';
  }
}
