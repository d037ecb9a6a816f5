import { configError, operationError } from '../errors.js';
import { silentLogger, type Logger } from '../ops/log.js';
import { AcmeHttp, type AcmeHttpOptions, type AcmeHttpResponse } from './http.js';
import { signJws, type AccountSigner, type JwsPayload } from './jws.js';
import { AcmeProblem, problemFromJson } from './problem.js';
import { directorySchema, parseResource, type AcmeDirectory } from './types.js';
import { MAX_BAD_NONCE_RETRIES, shortRetryWait, sleep } from './wait.js';

export interface AcmeSessionOptions extends AcmeHttpOptions {
  directoryUrl: string;
  signer: AccountSigner;
  accountUrl?: string | undefined;
}

export interface SignedPostOptions {
  /** Short description for errors and logs, e.g. "new order". */
  action: string;
  /** 'kid' (default) signs as the registered account; 'jwk' embeds the public key (newAccount). */
  auth?: 'kid' | 'jwk';
  accept?: string;
  signal?: AbortSignal | undefined;
}

/** Nonces are single-use and short-lived; a few spares are plenty. */
const MAX_SPARE_NONCES = 4;

/**
 * One ACME conversation: the directory, the nonce pool, the account key and URL, and the single
 * signed-request primitive every resource call goes through.
 */
export class AcmeSession {
  readonly http: AcmeHttp;
  readonly directoryUrl: string;
  readonly logger: Logger;
  signer: AccountSigner;
  accountUrl: string | undefined;
  private directoryPromise: Promise<AcmeDirectory> | undefined;
  private readonly nonces: string[] = [];

  constructor(options: AcmeSessionOptions) {
    this.http = new AcmeHttp(options);
    this.directoryUrl = options.directoryUrl;
    this.logger = options.logger ?? silentLogger;
    this.signer = options.signer;
    this.accountUrl = options.accountUrl;
  }

  /** The directory, fetched once per session; a failed fetch is retried on the next call. */
  directory(): Promise<AcmeDirectory> {
    this.directoryPromise ??= this.get(this.directoryUrl, 'directory')
      .then((res) => parseResource(directorySchema, res.json, 'directory', this.directoryUrl))
      .catch((err: unknown) => {
        this.directoryPromise = undefined;
        throw err;
      });
    return this.directoryPromise;
  }

  requireAccountUrl(): string {
    if (this.accountUrl === undefined) {
      throw configError('no ACME account URL known', 'register the account (newAccount) or pass its URL');
    }
    return this.accountUrl;
  }

  /** Unauthenticated GET (directory, renewalInfo); a non-2xx answer becomes an AcmeProblem. */
  async get(url: string, action: string, signal?: AbortSignal): Promise<AcmeHttpResponse> {
    for (let retries = 0; ; retries++) {
      const res = await this.http.request({ method: 'GET', url, action, signal });
      if (res.ok) return res;
      const wait = shortRetryWait(res.status, res.retryAfter, retries);
      if (wait === undefined) throw problemOf(res, action);
      this.logger.debug({ url, status: res.status, waitMs: wait }, 'acme: CA asked to retry shortly');
      await sleep(wait, signal, `ACME ${action}`);
    }
  }

  /**
   * Signed POST (RFC 8555 §6.2). Payload '' is POST-as-GET. Retries badNonce with the nonce the error
   * carried, and 429/503 only when Retry-After is short; anything else non-2xx throws AcmeProblem.
   */
  async post(url: string, payload: JwsPayload, options: SignedPostOptions): Promise<AcmeHttpResponse> {
    const { action, signal } = options;
    const kid = (options.auth ?? 'kid') === 'kid' ? this.requireAccountUrl() : undefined;
    let badNonces = 0;
    let shortRetries = 0;
    for (;;) {
      const nonce = await this.takeNonce(signal);
      const jws = await signJws(this.signer, { url, nonce, ...(kid === undefined ? {} : { kid }) }, payload);
      const res = await this.http.request({
        method: 'POST',
        url,
        action,
        body: JSON.stringify(jws),
        contentType: 'application/jose+json',
        ...(options.accept === undefined ? {} : { accept: options.accept }),
        signal,
      });
      this.keepNonce(res);
      if (res.ok) return res;
      const problem = problemOf(res, action);
      if (problem.is('badNonce') && badNonces < MAX_BAD_NONCE_RETRIES) {
        badNonces++;
        this.logger.debug({ url, attempt: badNonces }, 'acme: badNonce, retrying with a fresh nonce');
        continue;
      }
      const wait = shortRetryWait(res.status, res.retryAfter, shortRetries);
      if (wait === undefined) throw problem;
      shortRetries++;
      this.logger.debug({ url, status: res.status, waitMs: wait }, 'acme: CA asked to retry shortly');
      await sleep(wait, signal, `ACME ${action}`);
    }
  }

  async close(): Promise<void> {
    await this.http.close();
  }

  private keepNonce(res: AcmeHttpResponse): void {
    const nonce = res.headers.get('replay-nonce');
    if (!nonce) return;
    this.nonces.push(nonce);
    if (this.nonces.length > MAX_SPARE_NONCES) this.nonces.shift();
  }

  /** The newest nonce from an earlier response, else a fresh one from newNonce (HEAD). */
  private async takeNonce(signal?: AbortSignal): Promise<string> {
    const spare = this.nonces.pop();
    if (spare !== undefined) return spare;
    const { newNonce } = await this.directory();
    for (let retries = 0; ; retries++) {
      const res = await this.http.request({ method: 'HEAD', url: newNonce, action: 'new nonce', signal });
      const nonce = res.headers.get('replay-nonce');
      if (res.ok && nonce) return nonce;
      const wait = shortRetryWait(res.status, res.retryAfter, retries);
      if (wait === undefined) {
        if (res.ok) throw operationError(`CA sent no Replay-Nonce from ${newNonce}`);
        throw problemOf(res, 'new nonce');
      }
      await sleep(wait, signal, 'ACME new nonce');
    }
  }
}

export function problemOf(res: AcmeHttpResponse, action: string): AcmeProblem {
  return problemFromJson(res.json, { action, status: res.status, url: res.url, retryAfter: res.retryAfter });
}
