import { basename } from 'node:path';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { errorText, operationError, usageError } from '../errors.js';
import type { RenewEntry } from '../core/renew.js';
import { lifetimeRenewalTime } from '../core/schedule.js';
import type { StateStore } from '../store/store.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { onAcmeResponse, onVaultResponse } from './observe.js';

/**
 * Prometheus metrics of renewals and of the requests behind them, in a registry of our own (never
 * prom-client's global one). Labels are bounded: certificate names, ACME endpoint kinds, Vault
 * operation kinds; never URLs (they carry order and challenge tokens) nor secret paths.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly notAfter: Gauge<'name'>;
  private readonly nextRenewal: Gauge<'name'>;
  private readonly attempts: Counter<'name'>;
  private readonly failures: Counter<'name' | 'type'>;
  private readonly acme: Histogram<'endpoint' | 'status'>;
  private readonly vault: Histogram<'operation' | 'status'>;
  private readonly lastRun: Gauge;
  private readonly lastRunSuccess: Gauge;
  /** Names with per-certificate series, to drop certificates that disappeared from the store. */
  private readonly known = new Set<string>();

  constructor() {
    const registers = [this.registry];
    this.notAfter = new Gauge({
      name: 'certvault_certificate_not_after_timestamp_seconds',
      help: 'Expiry of the stored certificate (Unix time).',
      labelNames: ['name'],
      registers,
    });
    this.nextRenewal = new Gauge({
      name: 'certvault_next_renewal_timestamp_seconds',
      help: 'When the certificate is due for renewal or may be tried again (Unix time).',
      labelNames: ['name'],
      registers,
    });
    this.attempts = new Counter({
      name: 'certvault_renewal_attempts_total',
      help: 'Renewals attempted (ordered from the CA).',
      labelNames: ['name'],
      registers,
    });
    this.failures = new Counter({
      name: 'certvault_renewal_failures_total',
      help: 'Renewals that failed, by ACME problem type or "error".',
      labelNames: ['name', 'type'],
      registers,
    });
    this.acme = new Histogram({
      name: 'certvault_acme_request_duration_seconds',
      help: 'ACME HTTP requests by endpoint and status ("error" when no answer came).',
      labelNames: ['endpoint', 'status'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.vault = new Histogram({
      name: 'certvault_vault_request_duration_seconds',
      help: 'Vault HTTP requests by operation kind and status.',
      labelNames: ['operation', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.lastRun = new Gauge({
      name: 'certvault_last_run_timestamp_seconds',
      help: 'End of the last renewal run (Unix time).',
      registers,
    });
    this.lastRunSuccess = new Gauge({
      name: 'certvault_last_run_success',
      help: '1 when the last run reached the store and no certificate failed, else 0.',
      registers,
    });
  }

  /** Records Vault and ACME request durations from the process-wide observers; returns the unsubscribe. */
  observeRequests(): () => void {
    const offVault = onVaultResponse((i) =>
      this.vault.observe(
        { operation: vaultOperation(i.method, i.path), status: String(i.status) },
        i.ms / 1000,
      ),
    );
    const offAcme = onAcmeResponse((i) =>
      this.acme.observe(
        { endpoint: acmeEndpoint(i.action), status: i.status === 0 ? 'error' : String(i.status) },
        i.ms / 1000,
      ),
    );
    return () => {
      offVault();
      offAcme();
    };
  }

  /** One certificate's outcome; `failureType` and `nextRenewal` come from the store (see recordRenewResult). */
  recordResult(
    entry: RenewEntry,
    extra: { failureType?: string | undefined; nextRenewal?: Date | undefined } = {},
  ): void {
    const name = entry.name;
    if (entry.outcome === 'renewed' || entry.outcome === 'failed') this.attempts.inc({ name });
    if (entry.outcome === 'failed') this.failures.inc({ name, type: extra.failureType ?? 'error' });
    if (entry.notAfter) {
      this.notAfter.set({ name }, Date.parse(entry.notAfter) / 1000);
      this.known.add(name);
    }
    const next = extra.nextRenewal ?? (entry.next ? new Date(entry.next) : undefined);
    if (next) this.nextRenewal.set({ name }, next.getTime() / 1000);
  }

  /**
   * End of a run. `names`: every certificate the run saw, when it covered the whole store; gauges of
   * certificates no longer there are dropped (counters stay: they are history).
   */
  recordRun(ok: boolean, names?: string[], at = new Date()): void {
    this.lastRun.set(at.getTime() / 1000);
    this.lastRunSuccess.set(ok ? 1 : 0);
    if (!names) return;
    const seen = new Set(names);
    for (const name of this.known) {
      if (seen.has(name)) continue;
      this.notAfter.remove({ name });
      this.nextRenewal.remove({ name });
      this.known.delete(name);
    }
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/**
 * Adds what the report entry lacks: the ACME problem type of a failure (kept in the renewal state)
 * and, for a fresh certificate, its lifetime-rule renewal time (the next run refines it with ARI).
 */
export async function recordRenewResult(
  metrics: Metrics,
  store: StateStore,
  entry: RenewEntry,
): Promise<void> {
  let failureType: string | undefined;
  let nextRenewal: Date | undefined;
  if (entry.outcome === 'failed') {
    // Only a failure recorded under the lease (it has a next attempt) has its problem in the state.
    const state = entry.next ? await store.getState(entry.name).catch(() => null) : null;
    failureType = state?.value.lastProblem?.type ?? (/vault/i.test(entry.reason ?? '') ? 'vault' : 'error');
  }
  if (entry.outcome === 'renewed') {
    const summary = await store.getCertificateSummary(entry.name).catch(() => null);
    if (summary) nextRenewal = lifetimeRenewalTime(summary.notBefore, summary.notAfter);
  }
  metrics.recordResult(entry, { failureType, nextRenewal });
}

const ACME_ENDPOINTS: [RegExp, string][] = [
  [/^directory$/, 'directory'],
  [/^new nonce$/, 'newNonce'],
  [/^(new account|account lookup)$/, 'newAccount'],
  [/^new order$/, 'newOrder'],
  [/^order finalization$/, 'finalize'],
  [/^order( fetch)?$/, 'order'],
  [/^authorization|validation for/, 'authz'],
  [/^challenge/, 'challenge'],
  [/certificate download|chain download/, 'certificate'],
  [/^renewal info$/, 'renewalInfo'],
  [/revocation/, 'revokeCert'],
  [/key rollover/, 'keyChange'],
  [/deactivation/, 'account'],
];

/** The RFC 8555 resource an ACME transport action talks to. */
export function acmeEndpoint(action: string): string {
  return ACME_ENDPOINTS.find(([re]) => re.test(action))?.[1] ?? 'other';
}

/** `read data`, `list metadata`, `write metadata`, `read mounts`…: the kind of request, not its path. */
export function vaultOperation(method: string, path: string): string {
  const verb =
    method === 'GET' || method === 'HEAD'
      ? path.endsWith('/')
        ? 'list'
        : 'read'
      : method === 'DELETE'
        ? 'delete'
        : 'write';
  let kind: string;
  if (path.startsWith('sys/internal/ui/mounts')) kind = 'mounts';
  else if (path.startsWith('sys/')) kind = 'sys';
  else if (path.startsWith('auth/token/')) kind = 'token';
  else if (path.startsWith('auth/')) kind = 'login';
  else {
    const data = path.indexOf('/data/');
    const meta = path.indexOf('/metadata/');
    if (meta >= 0 && (data < 0 || meta < data)) kind = 'metadata';
    else if (data >= 0) kind = 'data';
    else kind = 'kv';
  }
  return `${verb} ${kind}`;
}

/** Writes the node exporter textfile atomically (a scrape never sees half of it). */
export async function writeTextfile(path: string, text: string): Promise<void> {
  if (!basename(path).endsWith('.prom')) {
    throw usageError(
      `invalid --metrics-textfile "${path}"`,
      'the node exporter only reads files ending in .prom',
    );
  }
  // Readable by the node exporter whatever the umask.
  await writeFileAtomic(path, text, { mode: 0o644 }).catch((err: unknown) => {
    throw operationError(
      `cannot write the metrics textfile ${path}: ${errorText(err)}`,
      'check that the folder exists and is writable',
    );
  });
}

/** Replaces this job's metrics on a Pushgateway: PUT URL/metrics/job/certvault. */
export async function pushMetrics(
  url: string,
  text: string,
  contentType: string,
  timeoutMs = 10_000,
): Promise<void> {
  let target: URL;
  try {
    target = new URL(`${url.replace(/\/+$/, '')}/metrics/job/certvault`);
  } catch {
    throw usageError(
      `invalid --metrics-push "${url}"`,
      'give the Pushgateway base URL, e.g. http://pushgateway:9091',
    );
  }
  const where = target.origin;
  let res: Response;
  try {
    res = await fetch(target, {
      method: 'PUT',
      headers: { 'content-type': contentType },
      body: text,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw operationError(
      `cannot push metrics to ${where}: ${errorText(err)}`,
      'check --metrics-push and that the Pushgateway is running',
    );
  }
  await res.body?.cancel().catch(() => undefined);
  if (res.status < 200 || res.status >= 300)
    throw operationError(`the Pushgateway at ${where} answered HTTP ${res.status}`);
}
