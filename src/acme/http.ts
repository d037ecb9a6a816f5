import { createSecureContext, type SecureContext } from 'node:tls';
import type { Agent } from 'undici';
import { errorText, operationError } from '../errors.js';
import { silentLogger, type Logger } from '../ops/log.js';
import { reportAcmeResponse } from '../ops/observe.js';
import { loadUndici } from '../util/undici.js';
import { parseLinks, parseRetryAfter, type LinkHeader } from './headers.js';
import { userAgent } from './user-agent.js';

export const DEFAULT_TIMEOUT_MS = 30_000;

export interface AcmeHttpOptions {
  /** Extra CA certificate (PEM) trusted for the ACME connection only, besides the system roots. */
  caCert?: string | undefined;
  timeoutMs?: number | undefined;
  logger?: Logger | undefined;
}

export interface AcmeHttpRequest {
  method: 'GET' | 'HEAD' | 'POST';
  url: string;
  /** Short description for errors, e.g. "new order". */
  action: string;
  body?: string;
  contentType?: string;
  accept?: string;
  signal?: AbortSignal | undefined;
}

/** A fully read response: ACME bodies are small, and reading inside the timeout keeps it bounded. */
export interface AcmeHttpResponse {
  url: string;
  status: number;
  ok: boolean;
  headers: Headers;
  text: string;
  /** Parsed body when the CA sent JSON, else undefined. */
  json: unknown;
  retryAfter: Date | undefined;
  links: LinkHeader[];
  /** Location header resolved against the request URL. */
  location: string | undefined;
}

/** Plain HTTP for ACME: User-Agent, per-request timeout, optional extra CA; no retries, no signing. */
export class AcmeHttp {
  readonly timeoutMs: number;
  private readonly logger: Logger;
  private readonly dispatcher: Promise<Agent> | undefined;

  constructor(options: AcmeHttpOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.logger = options.logger ?? silentLogger;
    // A dispatcher scoped to this client: trusting a test CA never touches process-wide TLS settings.
    const ca = options.caCert;
    this.dispatcher = ca
      ? loadUndici().then(({ Agent }) => new Agent({ connect: { secureContext: secureContextFor(ca) } }))
      : undefined;
  }

  async request(req: AcmeHttpRequest): Promise<AcmeHttpResponse> {
    const headers: Record<string, string> = { 'user-agent': userAgent() };
    if (req.contentType) headers['content-type'] = req.contentType;
    if (req.accept) headers.accept = req.accept;
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
    const started = Date.now();
    // A string body gets an exact Content-Length from fetch; ACME servers reject chunked POSTs.
    const init = {
      method: req.method,
      headers,
      body: req.body,
      signal,
      redirect: req.method === 'GET' ? 'follow' : 'manual',
      ...(this.dispatcher ? { dispatcher: await this.dispatcher } : {}),
    } as RequestInit;
    try {
      const res = await fetch(req.url, init);
      const text = req.method === 'HEAD' ? '' : await res.text();
      reportAcmeResponse({
        action: req.action,
        method: req.method,
        status: res.status,
        ms: Date.now() - started,
      });
      this.logger.debug(
        { method: req.method, url: req.url, status: res.status, ms: Date.now() - started },
        'acme http',
      );
      return {
        url: req.url,
        status: res.status,
        ok: res.status >= 200 && res.status < 300,
        headers: res.headers,
        text,
        json: parseJsonBody(res.headers.get('content-type'), text),
        retryAfter: parseRetryAfter(res.headers.get('retry-after')),
        links: parseLinks(res.headers.get('link'), req.url),
        location: resolveLocation(res.headers.get('location'), req.url),
      };
    } catch (err) {
      reportAcmeResponse({ action: req.action, method: req.method, status: 0, ms: Date.now() - started });
      throw this.networkError(req, err, timeout, started);
    }
  }

  /** Releases pooled connections so the process can exit promptly. */
  async close(): Promise<void> {
    await (await this.dispatcher)?.close();
  }

  private networkError(req: AcmeHttpRequest, err: unknown, timeout: AbortSignal, started: number): Error {
    const host = safeOrigin(req.url);
    if (timeout.aborted) {
      return operationError(
        `ACME ${req.action}: no answer from ${host} within ${formatMs(this.timeoutMs)}`,
        'check the network path to the CA or raise the timeout',
        err,
      );
    }
    if (req.signal?.aborted) return operationError(`ACME ${req.action} cancelled`, undefined, err);
    this.logger.debug({ method: req.method, url: req.url, ms: Date.now() - started }, 'acme http failed');
    return operationError(`ACME ${req.action}: cannot reach ${host}: ${errorText(err)}`, undefined, err);
  }
}

/**
 * `--acme-ca-cert` replaces the trusted roots for the ACME connection (as Certbot's
 * REQUESTS_CA_BUNDLE and lego's LEGO_CA_CERTIFICATES do): a private CA needs nothing else, and a
 * context from one certificate costs ~1 ms instead of ~100 ms for the ~150 system roots. Cached, so
 * new connections do not rebuild it.
 */
const secureContexts = new Map<string, SecureContext>();
function secureContextFor(caPem: string): SecureContext {
  let ctx = secureContexts.get(caPem);
  if (!ctx) {
    ctx = createSecureContext({ ca: caPem });
    secureContexts.set(caPem, ctx);
  }
  return ctx;
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${Math.round(ms / 100) / 10}s`;
}

function parseJsonBody(contentType: string | null, text: string): unknown {
  if (!contentType || !/json/i.test(contentType) || text.length === 0) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function resolveLocation(value: string | null, base: string): string | undefined {
  if (!value) return undefined;
  try {
    return new URL(value, base).toString();
  } catch {
    return undefined;
  }
}

export function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'the CA';
  }
}
