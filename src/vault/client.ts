import type { Agent } from 'undici';
import { silentLogger, type Logger } from '../ops/log.js';
import { loadUndici } from '../util/undici.js';
import { configError, operationError, errorText } from '../errors.js';
import { VaultError, classifyNotFound, type NotFoundKind } from './errors.js';

export interface VaultClientOptions {
  addr: string;
  /** Called for each request so that a token refreshed by a login or an Agent sink is picked up. */
  token: () => string | undefined;
  namespace?: string | undefined;
  caCertPem?: string | undefined;
  /** Explicit opt-out of TLS verification (never implied). */
  insecure?: boolean | undefined;
  timeoutMs?: number;
  maxRetries?: number;
  /** Base delay of the jittered exponential backoff between retries. */
  retryBaseMs?: number;
  logger?: Logger;
  /** Observer for metrics: one call per HTTP attempt. */
  onResponse?: (info: { method: string; path: string; status: number; ms: number }) => void;
  /**
   * Called when Vault rejects the token sent (`used`) as missing, expired or revoked: resolves true
   * once a fresh token is available (the request is then retried once), false to fail as is.
   */
  onBadToken?: (used: string | undefined, rejected: VaultError) => Promise<boolean>;
}

export type Retry = 'idempotent' | 'unsent-only';

export interface VaultRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD';
  /** Logical path after `/v1/`, e.g. `secret/data/x`. */
  path: string;
  query?: Record<string, string>;
  body?: unknown;
  contentType?: string;
  /** `idempotent` (default for GET/DELETE/HEAD): retry any transient failure. `unsent-only`: retry only
   *  when the request surely had no effect (connection refused, 429, sealed/standby 503). */
  retry?: Retry;
  /** Statuses returned to the caller instead of thrown (e.g. 404 to tell the kinds apart). */
  accept?: number[];
  /** Unauthenticated endpoints (health, login). */
  noToken?: boolean;
  /** Send this token instead of the client's (unwrapping a response-wrapped secret). */
  token?: string;
}

export interface VaultResponse {
  status: number;
  body: unknown;
  notFound?: NotFoundKind;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Thin typed Vault HTTP client (no node-vault: see docs/vault-layout.md) on undici's request() over
 * one keep-alive agent: about half the CPU per request of fetch(), which matters when listing or
 * planning thousands of certificates (docs/benchmarks.md).
 */
export class VaultClient {
  readonly addr: string;
  readonly namespace: string | undefined;
  /** Per attempt, connect to last body byte. */
  private readonly timeoutMs: number;
  private readonly opts: VaultClientOptions;
  /** Created on first use (loading undici is not free); the CA and insecure flag apply to Vault only. */
  private agent: Promise<Agent> | undefined;
  private readonly logger: Logger;
  /** Count of HTTP attempts, for benchmarks and tests. */
  requestCount = 0;

  constructor(opts: VaultClientOptions) {
    let url: URL;
    try {
      url = new URL(opts.addr);
    } catch {
      throw configError(
        `invalid Vault address "${opts.addr}"`,
        'use a URL like https://vault.example.com:8200',
      );
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw configError(`invalid Vault address "${opts.addr}": scheme must be http or https`);
    }
    this.addr = url.origin + url.pathname.replace(/\/+$/, '');
    this.namespace = opts.namespace || undefined;
    this.opts = opts;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.logger = opts.logger ?? silentLogger;
  }

  private dispatcher(): Promise<Agent> {
    // The connect timeout tells "never sent" (safe to retry) from "no answer"; the request deadline
    // in attempt() bounds the rest, as undici's own header/body timers run ~1 s late.
    const connect = {
      timeout: this.timeoutMs,
      ...(this.opts.caCertPem ? { ca: this.opts.caCertPem } : {}),
      ...(this.opts.insecure ? { rejectUnauthorized: false } : {}),
    };
    this.agent ??= loadUndici().then(({ Agent }) => new Agent({ connect, keepAliveTimeout: 10_000 }));
    return this.agent;
  }

  /** Closes pooled connections so a one-shot command exits promptly. */
  async close(): Promise<void> {
    await (await this.agent)?.close();
  }

  async request(req: VaultRequest): Promise<VaultResponse> {
    const own = !req.noToken && req.token === undefined && this.opts.onBadToken !== undefined;
    const used = own ? this.opts.token() : undefined;
    try {
      return await this.send(req);
    } catch (err) {
      if (!own || !(err instanceof VaultError) || err.status !== 403 || !looksLikeBadToken(err.errors))
        throw err;
      if (!(await this.opts.onBadToken!(used, err))) throw err;
      return this.send(req); // once: a second rejection is final
    }
  }

  private async send(req: VaultRequest): Promise<VaultResponse> {
    const retry =
      req.retry ??
      (req.method === 'GET' || req.method === 'DELETE' || req.method === 'HEAD'
        ? 'idempotent'
        : 'unsent-only');
    const maxRetries = this.opts.maxRetries ?? 4;
    for (let attempt = 0; ; attempt++) {
      const outcome = await this.attempt(req);
      const transient = outcome.kind === 'transient' && (retry === 'idempotent' || outcome.unsent);
      if (!transient || attempt >= maxRetries) {
        if (outcome.kind === 'ok') return outcome.response;
        throw outcome.error;
      }
      const base = this.opts.retryBaseMs ?? 200;
      const delay = Math.min(base * 2 ** attempt, 5000) * (0.5 + Math.random() / 2);
      this.logger.debug(
        { path: req.path, attempt: attempt + 1, delayMs: Math.round(delay) },
        'retrying Vault request',
      );
      await sleep(delay);
    }
  }

  private async attempt(
    req: VaultRequest,
  ): Promise<
    { kind: 'ok'; response: VaultResponse } | { kind: 'transient' | 'fatal'; error: Error; unsent: boolean }
  > {
    const url = new URL(`${this.addr}/v1/${req.path}`);
    for (const [k, v] of Object.entries(req.query ?? {})) url.searchParams.set(k, v);
    const headers: Record<string, string> = { 'X-Vault-Request': 'true' };
    if (this.namespace) headers['X-Vault-Namespace'] = this.namespace;
    if (!req.noToken) {
      const token = req.token ?? this.opts.token();
      if (token) headers['X-Vault-Token'] = token;
    }
    let payload: string | undefined;
    if (req.body !== undefined) {
      payload = JSON.stringify(req.body);
      headers['Content-Type'] = req.contentType ?? 'application/json';
    }
    const started = performance.now();
    this.requestCount++;
    let status: number;
    let text: string;
    const deadline = AbortSignal.timeout(this.timeoutMs);
    try {
      const { request } = await loadUndici();
      const res = await request(url, {
        method: req.method,
        headers,
        body: payload,
        dispatcher: await this.dispatcher(),
        maxRedirections: 2, // a standby node may answer 307 to the active one
        signal: deadline,
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (err) {
      const code = String(
        (err as { code?: string }).code ?? (err as { cause?: { code?: string } }).cause?.code ?? '',
      );
      const cause = errorText((err as { cause?: unknown }).cause ?? err);
      const timedOut = deadline.aborted || /TIMEOUT/.test(code);
      const unsent = [
        'ECONNREFUSED',
        'ENOTFOUND',
        'EAI_AGAIN',
        'EHOSTUNREACH',
        'ENETUNREACH',
        'UND_ERR_CONNECT_TIMEOUT',
      ].includes(code);
      const tls = /certificate|self.signed|SSL|TLS/i.test(cause);
      const error = operationError(
        `cannot reach Vault at ${this.addr} (${req.method} ${req.path}): ${timedOut ? `no answer within ${this.timeoutMs} ms` : cause}`,
        tls
          ? "set VAULT_CACERT to the CA that signed Vault's certificate"
          : 'check VAULT_ADDR and that Vault is running',
        err,
      );
      return { kind: tls ? 'fatal' : 'transient', error, unsent };
    }
    const ms = performance.now() - started;
    this.opts.onResponse?.({ method: req.method, path: req.path, status: status, ms });
    let body: unknown = null;
    if (text.length > 0) {
      try {
        body = JSON.parse(text);
      } catch {
        body = { errors: [text.slice(0, 200)] };
      }
    }
    if (status < 300 || req.accept?.includes(status)) {
      const response: VaultResponse = { status: status, body };
      if (status === 404) response.notFound = classifyNotFound(text.length > 0 ? body : null);
      return { kind: 'ok', response };
    }
    const errors = ((body as { errors?: unknown })?.errors ?? []) as string[];
    const error = this.describe(req, status, errors);
    const sealedOrStandby = status === 503 || status === 429;
    const transient = sealedOrStandby || status >= 500 || status === 412;
    return { kind: transient ? 'transient' : 'fatal', error, unsent: sealedOrStandby };
  }

  private describe(req: VaultRequest, status: number, errors: string[]): VaultError {
    const op = `${req.method} ${req.path}`;
    const detail = errors
      .map((e) =>
        e
          .replace(/\s+/g, ' ')
          .replace(/^1 error occurred: \* /, '')
          .trim(),
      )
      .join('; ');
    if (status === 403) {
      const badToken = looksLikeBadToken(errors);
      return new VaultError(`Vault denied ${op} at ${this.addr} (403 permission denied)`, {
        status,
        path: req.path,
        errors,
        hint: badToken
          ? 'the token is missing, expired or revoked, or its policy lacks this path: check VAULT_TOKEN, or run `certvault policy` for the capabilities needed'
          : "the token's policy lacks this capability: grant it (see `certvault policy`)",
      });
    }
    if (status === 503 && /sealed/i.test(detail)) {
      return new VaultError(`Vault at ${this.addr} is sealed (${op})`, {
        status,
        path: req.path,
        errors,
        hint: 'unseal Vault and retry',
      });
    }
    return new VaultError(`Vault request ${op} failed with ${status}${detail ? `: ${detail}` : ''}`, {
      status,
      path: req.path,
      errors,
      // Retried already when safe: what is left is Vault's side (standby without a leader, overload).
      ...(status >= 500
        ? { hint: 'Vault is failing or unavailable: check its status and logs (`certvault doctor`)' }
        : {}),
    });
  }
}

/**
 * A 403 for a missing, expired or revoked token, as opposed to a policy denial: Vault < 1.17 and
 * OpenBao answer a bare "permission denied", Vault >= 1.17 adds "invalid token", while policy
 * denials come wrapped as "1 error occurred: ..." (reference §4.4) and the mount preflight names itself.
 */
export function looksLikeBadToken(errors: string[]): boolean {
  if (errors.some((e) => e.includes('invalid token'))) return true;
  return !errors.some((e) => e.includes('error occurred') || e.includes('preflight'));
}
