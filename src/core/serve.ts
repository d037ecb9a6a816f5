import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorText, operationError } from '../errors.js';
import type { Logger } from '../ops/log.js';
import { recordRenewResult, type Metrics } from '../ops/metrics.js';
import { onAcmeResponse, onVaultResponse } from '../ops/observe.js';
import type { StateStore } from '../store/store.js';
import { renewAll, type RenewEntry, type RenewEnv, type RenewOptions } from './renew.js';

export interface ServeOptions {
  host: string;
  port: number;
  intervalMs: number;
  /** Share of the interval each delay varies by (0..1), so replicas do not run in lockstep. */
  jitter: number;
  /** /readyz fails once the last store/CA contact that worked is older than this many intervals. */
  readyIntervals: number;
  renew: RenewOptions;
}

export type ServeEntry = RenewEntry & { hook?: string };

export interface RunReport {
  startedAt: string;
  /** The store was reached and no certificate failed. */
  ok: boolean;
  /** Why the whole run failed (store unreachable…); absent when it ran. */
  error?: string;
  entries: ServeEntry[];
  nextRunAt: string;
}

export interface ServeDeps {
  /** Opens (or returns the already opened) store; may fail while Vault is down, and is retried. */
  openStore: () => Promise<StateStore>;
  env: Omit<RenewEnv, 'signal' | 'onResult'>;
  metrics: Metrics;
  /** Deploy hooks and webhooks for one certificate; returns the report's `hook` text. */
  afterResult?:
    | ((
        store: StateStore,
        entry: RenewEntry,
        cert: { domains: string[]; path: string },
      ) => Promise<string | undefined>)
    | undefined;
  onListening: (url: string) => void;
  onRun: (report: RunReport) => void;
  logger: Logger;
  /** Shutdown (SIGTERM/SIGINT): the running renewal is aborted, its leases released, then we return. */
  signal: AbortSignal;
  random?: () => number;
}

/** After a failed run the next one comes sooner, doubling from this up to the interval. */
const RETRY_BASE_MS = 30_000;

/**
 * `certvault serve`: renewAll on a jittered schedule, with /metrics, /healthz and /readyz. A failed run
 * (Vault sealed, network down) is logged and retried with backoff; nothing here lets it crash.
 */
export async function serve(opts: ServeOptions, deps: ServeDeps): Promise<void> {
  const random = deps.random ?? Math.random;
  const readiness = new Readiness(opts.intervalMs * opts.readyIntervals);
  const server = createServer((req, res) => {
    handle(req, res, deps.metrics, readiness, deps.signal).catch((err: unknown) => {
      deps.logger.warn(`serving ${req.url ?? ''} failed: ${errorText(err)}`);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await listen(server, opts.host, opts.port);
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  deps.onListening(`http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}`);

  const unobserve = deps.metrics.observeRequests();
  const offAcme = onAcmeResponse((i) => readiness.acme(i.status));
  // Any answer below 500 shows Vault is up (a 404 is an answer; sealed or standby is 503).
  const offVault = onVaultResponse((i) => i.status < 500 && i.status !== 429 && readiness.storeOk());
  try {
    let failures = 0;
    // The first run comes at once, spread only by the jitter (many replicas starting together).
    let delay = opts.intervalMs * opts.jitter * random();
    while (!deps.signal.aborted) {
      try {
        await sleep(delay, undefined, { signal: deps.signal });
      } catch {
        break; // shutdown while waiting
      }
      const startedAt = new Date();
      const outcome = await runOnce(opts, deps, readiness, startedAt);
      failures = outcome.reachedStore ? 0 : failures + 1;
      const base =
        failures === 0
          ? opts.intervalMs
          : Math.min(opts.intervalMs, Math.min(opts.intervalMs, RETRY_BASE_MS) * 2 ** (failures - 1));
      delay = Math.max(0, base * (1 + opts.jitter * (2 * random() - 1)));
      deps.onRun({ ...outcome.report, nextRunAt: new Date(Date.now() + delay).toISOString() });
    }
  } finally {
    unobserve();
    offAcme();
    offVault();
    await close(server);
  }
}

async function runOnce(
  opts: ServeOptions,
  deps: ServeDeps,
  readiness: Readiness,
  startedAt: Date,
): Promise<{ reachedStore: boolean; report: Omit<RunReport, 'nextRunAt'> }> {
  const hooks = new Map<string, string>();
  try {
    const store = await deps.openStore();
    const entries = await renewAll(
      store,
      { ...opts.renew, startedAt: startedAt.getTime() },
      {
        ...deps.env,
        signal: deps.signal,
        onResult: async (entry, cert) => {
          const hook = await deps.afterResult?.(store, entry, cert);
          if (hook) hooks.set(entry.name, hook);
          await recordRenewResult(deps.metrics, store, entry);
        },
      },
    );
    readiness.storeOk();
    const ok = !entries.some((e) => e.outcome === 'failed');
    // A run over the whole store tells which certificates still exist.
    deps.metrics.recordRun(ok, opts.renew.names?.length ? undefined : entries.map((e) => e.name));
    const report = entries.map((e): ServeEntry => {
      const hook = hooks.get(e.name);
      return hook ? { ...e, hook } : e;
    });
    return { reachedStore: true, report: { startedAt: startedAt.toISOString(), ok, entries: report } };
  } catch (err) {
    const error = errorText(err);
    deps.logger.error(`renewal run failed, retrying with backoff: ${error}`);
    deps.metrics.recordRun(false);
    return {
      reachedStore: false,
      report: { startedAt: startedAt.toISOString(), ok: false, error, entries: [] },
    };
  }
}

/** What /readyz answers: a recent store contact, and no CA failure since the CA last answered. */
export class Readiness {
  private lastStoreOk: number | undefined;
  private lastCaOk: number | undefined;
  private lastCaError: number | undefined;

  constructor(private readonly windowMs: number) {}

  storeOk(now = Date.now()): void {
    this.lastStoreOk = now;
  }

  /** An ACME answer: no answer (0) or a 5xx is a CA failure; anything else shows the CA works. */
  acme(status: number, now = Date.now()): void {
    if (status === 0 || status >= 500) this.lastCaError = now;
    else this.lastCaOk = now;
  }

  check(now = Date.now()): { ready: boolean; reasons: string[] } {
    const reasons: string[] = [];
    const iso = (t: number) => new Date(t).toISOString();
    if (this.lastStoreOk === undefined) reasons.push('no renewal run has reached the store yet');
    else if (now - this.lastStoreOk > this.windowMs)
      reasons.push(`the store was last reached at ${iso(this.lastStoreOk)}`);
    const caDown =
      this.lastCaError !== undefined && (this.lastCaOk === undefined || this.lastCaError > this.lastCaOk);
    if (caDown && now - (this.lastCaError as number) <= this.windowMs)
      reasons.push(`the CA failed at ${iso(this.lastCaError as number)} and has not answered since`);
    return { ready: reasons.length === 0, reasons };
  }
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  metrics: Metrics,
  readiness: Readiness,
  shutdown: AbortSignal,
): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end();
    return;
  }
  const send = (status: number, type: string, body: string) => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  switch (path) {
    case '/metrics':
      return send(200, metrics.contentType, await metrics.text());
    case '/healthz':
      return send(200, 'text/plain; charset=utf-8', 'ok\n');
    case '/readyz': {
      const r = readiness.check();
      if (shutdown.aborted) r.reasons.push('shutting down');
      const ready = r.reasons.length === 0;
      return send(
        ready ? 200 : 503,
        'application/json',
        `${JSON.stringify({ ready, reasons: r.reasons })}\n`,
      );
    }
    default:
      return send(404, 'text/plain; charset=utf-8', 'not found: try /metrics, /healthz or /readyz\n');
  }
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const why =
        err.code === 'EADDRINUSE'
          ? 'the address is in use'
          : err.code === 'EACCES'
            ? 'permission denied'
            : errorText(err);
      reject(operationError(`cannot listen on ${host}:${port}: ${why}`, 'choose another --listen address'));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
