import { AcmeProblem, type RenewalInfo } from '../acme/index.js';
import { createDnsProvider, type DnsProvider, type HostPort } from '../dns/index.js';
import { configError, errorText, operationError } from '../errors.js';
import type { Logger } from '../ops/log.js';
import type { IndexedCertificate, StateStore } from '../store/store.js';
import type { CertificateSummary, OrderJournal, RenewalState } from '../store/types.js';
import { mapLimit } from '../util/map-limit.js';
import { openAccount, type AccountSession, type AcmeConnection } from './acme-context.js';
import { acquireLease } from './lock.js';
import { obtainCertificate, resumeOrder, type ObtainDeps } from './obtain.js';
import { ariSelectedTime, backoffUntil, lifetimeRenewalTime } from './schedule.js';

export interface RenewOptions {
  names?: string[] | undefined;
  force: boolean;
  dryRun: boolean;
  concurrency: number;
  lockTtlMs: number;
  dnsResolvers?: HostPort[] | undefined;
  propagationTimeoutMs: number;
  timeoutMs: number;
  /** Start of this run (ms since the epoch); default: the process start. `serve` sets it per tick. */
  startedAt?: number | undefined;
}

export type RenewOutcome = 'renewed' | 'not-due' | 'deferred' | 'failed' | 'would-renew';

export interface RenewEntry {
  name: string;
  outcome: RenewOutcome;
  /** Why it was (or would be) renewed, deferred or failed. */
  reason?: string;
  /** When it is due next (not-due), or may be tried again (deferred/failed). */
  next?: string;
  notAfter?: string;
  version?: number;
  resumed?: boolean;
  domains?: string[];
}

export interface RenewEnv extends AcmeConnection {
  logger: Logger;
  progress: (message: string) => void;
  signal?: AbortSignal | undefined;
  /**
   * Called once per certificate with its outcome (deploy hooks, webhooks, metrics). Runs after the
   * lease is released; what it throws is logged, never turned into a renewal failure.
   */
  onResult?:
    ((entry: RenewEntry, cert: { domains: string[]; path: string }) => Promise<void> | void) | undefined;
}

/** This run's start: with --force, a certificate renewed by another runner since then is left alone. */
const RUN_STARTED = performance.timeOrigin;

const INTERRUPTED = 'interrupted before it finished; the next run picks it up';

interface Decision {
  due: boolean;
  reason: string;
  at?: Date;
  deferred?: boolean;
  stateChanged?: boolean;
}

/**
 * `certvault renew`: decides per certificate from the store alone (ARI first, lifetime fallback,
 * persisted backoff), then renews what is due under a per-certificate lease, resuming journaled
 * orders first. Every certificate is processed; failures are recorded, not fatal to the others.
 */
export async function renewAll(store: StateStore, opts: RenewOptions, env: RenewEnv): Promise<RenewEntry[]> {
  const names = opts.names?.length ? opts.names : await store.listCertificateNames();
  const journals = await store.listJournals();
  // Named certificates are read from their own records: few, and not subject to what other names'
  // writers put in the shared index.
  const indexed = opts.names?.length ? new Map<string, IndexedCertificate>() : await store.readIndex(names);
  const sessions = new SessionCache(store, env);
  const report = async (entry: RenewEntry): Promise<RenewEntry> => {
    if (env.onResult && !opts.dryRun) {
      const domains = entry.domains ?? [];
      await Promise.resolve(
        env.onResult(entry, { domains, path: store.path('certificates', entry.name) }),
      ).catch((err: unknown) =>
        env.logger.warn({ name: entry.name }, `after-renewal action failed: ${errorText(err)}`),
      );
    }
    return entry;
  };
  const failed = (name: string, err: unknown): RenewEntry => {
    env.logger.debug({ name, err: errorText(err) }, 'renewal failed');
    return { name, outcome: 'failed', reason: errorText(err) };
  };
  try {
    // Planning is mostly reads, so many certificates at once; renewing is bounded by --concurrency.
    const plans = await mapLimit(names, PLAN_CONCURRENCY, (name) =>
      plan(store, name, indexed.get(name), journals.has(name), opts, sessions, env.logger).catch(
        (err: unknown) => failed(name, err),
      ),
    );
    if (store.kv.version === 1 && !opts.dryRun && plans.some((p) => !('outcome' in p))) {
      env.logger.warn(
        'KV v1 mount: without check-and-set the renewal leases are best effort, so overlapping runs may order a certificate twice; run one renew at a time or use a KV v2 mount',
      );
    }
    return await mapLimit(plans, Math.max(1, opts.concurrency), async (p) => {
      if ('outcome' in p) return report(p);
      // After Ctrl-C or SIGTERM, certificates not started yet are left for the next run.
      if (env.signal?.aborted)
        return report({ name: p.name, outcome: 'deferred', reason: INTERRUPTED, domains: p.summary.domains });
      const entry = await renewDue(store, p, opts, env, sessions).catch((err: unknown) =>
        failed(p.name, err),
      );
      return report({ domains: p.summary.domains, ...entry });
    });
  } finally {
    await sessions.close();
  }
}

const PLAN_CONCURRENCY = 32;

interface DuePlan {
  name: string;
  summary: CertificateSummary;
  reason: string;
}

/**
 * Decides from what the store says about one certificate (its index entry when complete, else its own
 * records, which then go into the index); returns a final entry unless due.
 */
async function plan(
  store: StateStore,
  name: string,
  indexed: IndexedCertificate | undefined,
  hasJournal: boolean,
  opts: RenewOptions,
  sessions: SessionCache,
  logger: Logger,
): Promise<DuePlan | RenewEntry> {
  let summary = indexed?.summary;
  let stateRec = indexed?.state;
  if (!summary || !stateRec) {
    const [own, ownState] = await Promise.all([store.getCertificateSummary(name), store.getState(name)]);
    if (!own)
      throw operationError(`no certificate named "${name}" in ${store.location}`, 'see `certvault list`');
    if (!opts.dryRun)
      await store
        .repairIndex(name, own, ownState)
        .catch((err: unknown) => logger.debug({ name, err: errorText(err) }, 'summary index not updated'));
    summary = own;
    stateRec = ownState ?? undefined;
  }
  const state: RenewalState = stateRec?.value ?? { failures: 0 };
  const decision = await decide(store, name, summary, state, hasJournal, opts, sessions, logger);
  if (decision.stateChanged && !opts.dryRun) await store.putState(name, state);
  const undue = undueEntry(name, summary, decision);
  if (undue) return undue;
  if (opts.dryRun)
    return {
      name,
      outcome: 'would-renew',
      reason: decision.reason,
      notAfter: summary.notAfter.toISOString(),
      domains: summary.domains,
    };
  return { name, summary, reason: decision.reason };
}

/** The report entry of a certificate that is not renewed now (deferred or not due); null when due. */
function undueEntry(name: string, summary: CertificateSummary, decision: Decision): RenewEntry | null {
  if (decision.due) return null;
  return {
    name,
    outcome: decision.deferred ? 'deferred' : 'not-due',
    reason: decision.reason,
    ...(decision.at ? { next: decision.at.toISOString() } : {}),
    notAfter: summary.notAfter.toISOString(),
    domains: summary.domains,
  };
}

/** Renews one due certificate under its lease. */
async function renewDue(
  store: StateStore,
  { name, summary, reason }: DuePlan,
  opts: RenewOptions,
  env: RenewEnv,
  sessions: SessionCache,
): Promise<RenewEntry> {
  const notAfter = summary.notAfter.toISOString();
  const got = await acquireLease(store, name, opts.lockTtlMs, env.logger);
  if ('heldBy' in got) {
    return {
      name,
      outcome: 'deferred',
      reason: `being renewed by ${got.heldBy.owner}`,
      next: got.heldBy.expiresAt,
      notAfter,
    };
  }
  const { lease } = got;
  try {
    // Re-read under the lease: another runner may have finished this certificate meanwhile.
    const [fresh, journal, freshRec] = await Promise.all([
      store.getCertificateSummary(name),
      store.getJournal(name),
      store.getState(name),
    ]);
    if (!fresh)
      throw operationError(`no certificate named "${name}" in ${store.location}`, 'see `certvault list`');
    const freshState = freshRec?.value ?? { failures: 0 };
    const lastSuccess = Date.parse(freshState.lastSuccess ?? '') || 0;
    if (!journal && lastSuccess >= (opts.startedAt ?? RUN_STARTED)) {
      return {
        name,
        outcome: 'not-due',
        reason: 'renewed by another runner during this run',
        notAfter: fresh.notAfter.toISOString(),
      };
    }
    if (!journal) {
      // The plan may rest on records that changed since it was read: a failure another runner
      // recorded, or a certificate rewritten by another tool while the index held the old one.
      // Decide again on what is stored now, and record it in the index if it differed.
      if (fresh.version !== summary.version)
        await store
          .repairIndex(name, fresh, freshRec)
          .catch((err: unknown) =>
            env.logger.debug({ name, err: errorText(err) }, 'summary index not updated'),
          );
      const decision = await decide(store, name, fresh, freshState, false, opts, sessions, env.logger);
      if (decision.stateChanged) await store.putState(name, freshState);
      const undue = undueEntry(name, fresh, decision);
      if (undue) return undue;
      reason = decision.reason;
    }
    const signal = env.signal ? AbortSignal.any([env.signal, lease.signal]) : lease.signal;
    if (fresh.source === 'pem') await store.refreshCertificateMetadata(name).catch(() => undefined);
    const interrupted = () => Boolean(env.signal?.aborted);
    return await renewLocked(
      store,
      name,
      fresh,
      freshState,
      journal?.value,
      reason,
      opts,
      { ...env, signal },
      sessions,
      interrupted,
    );
  } finally {
    await lease.release();
  }
}

async function renewLocked(
  store: StateStore,
  name: string,
  summary: CertificateSummary,
  state: RenewalState,
  journal: OrderJournal | undefined,
  reason: string,
  opts: RenewOptions,
  env: RenewEnv,
  sessions: SessionCache,
  interrupted: () => boolean,
): Promise<RenewEntry> {
  const params = (await store.getParams(name))?.value;
  if (!params)
    throw configError(
      `no issuance parameters stored for "${name}"`,
      'issue it with certvault, or adopt it with `certvault import`',
    );
  const session = await sessions.get(journal?.server ?? params.server);
  const deps: ObtainDeps = {
    store,
    client: session.client,
    solver: {
      provider: await sessions.dns(params.dns),
      resolvers: opts.dnsResolvers,
      propagationTimeoutMs: opts.propagationTimeoutMs,
    },
    logger: env.logger,
    progress: (m) => env.progress(`${name}: ${m}`),
    signal: env.signal,
    timeoutMs: opts.timeoutMs,
  };
  try {
    let obtained = journal ? await resumeOrder(name, journal, deps, params.preferredChain) : null;
    const resumed = obtained !== null;
    if (!obtained) {
      const dir = await session.client.directory();
      const reuseKeyPem = params.reuseKey
        ? (await store.getCertificate(name))?.material.privkey || undefined
        : undefined;
      obtained = await obtainCertificate(
        {
          name,
          serverId: session.server.id,
          domains: params.domains,
          keyType: params.keyType,
          profile: params.profile,
          preferredChain: params.preferredChain,
          replaces: dir.renewalInfo ? summary.ariId : undefined,
          reuseKeyPem,
          certVersion: summary.version,
        },
        deps,
      );
    }
    await store.putState(name, { failures: 0, lastSuccess: new Date().toISOString() });
    return {
      name,
      outcome: 'renewed',
      reason,
      notAfter: obtained.facts.notAfter.toISOString(),
      version: obtained.version,
      resumed,
      domains: obtained.facts.domains,
    };
  } catch (err) {
    // Stopped by the operator: not the CA's or the DNS's fault, so no failure is recorded. A journaled
    // order is resumed by the next run.
    if (interrupted())
      return { name, outcome: 'deferred', reason: INTERRUPTED, notAfter: summary.notAfter.toISOString() };
    const lifetime = summary.notAfter.getTime() - summary.notBefore.getTime();
    const failures = state.failures + 1;
    const retryAfter = err instanceof AcmeProblem ? err.retryAfter : undefined;
    const nextAttempt = backoffUntil(failures, lifetime, Date.now(), retryAfter);
    const problem =
      err instanceof AcmeProblem
        ? { type: err.shortType, detail: err.detail, status: err.status, at: new Date().toISOString() }
        : { type: 'error', detail: errorText(err), at: new Date().toISOString() };
    await store
      .putState(name, {
        ...state,
        failures,
        nextAttemptAfter: nextAttempt.toISOString(),
        lastProblem: problem,
      })
      .then(() =>
        store.setRenewalStatus(name, {
          failures,
          problem: problem.type,
          retryAfter: nextAttempt.toISOString(),
        }),
      )
      .catch((e: unknown) => env.logger.warn({ name }, `could not record the failure: ${errorText(e)}`));
    return {
      name,
      outcome: 'failed',
      reason: errorText(err),
      next: nextAttempt.toISOString(),
      notAfter: summary.notAfter.toISOString(),
    };
  }
}

/** Decides from stored facts; asks the CA for ARI only when the stored answer is stale. Mutates `state`. */
async function decide(
  store: StateStore,
  name: string,
  summary: CertificateSummary,
  state: RenewalState,
  hasJournal: boolean,
  opts: RenewOptions,
  sessions: SessionCache,
  logger: Logger,
): Promise<Decision> {
  const now = Date.now();
  if (hasJournal) return { due: true, reason: 'resuming a pending order' };
  if (state.nextAttemptAfter && Date.parse(state.nextAttemptAfter) > now && !opts.force) {
    const why = state.lastProblem
      ? `${state.lastProblem.type}: ${state.lastProblem.detail}`
      : 'earlier failure';
    return {
      due: false,
      deferred: true,
      reason: `backing off after ${state.failures} failure(s) (${why})`,
      at: new Date(state.nextAttemptAfter),
    };
  }
  if (opts.force) return { due: true, reason: 'forced' };

  let ari =
    state.ari && state.ari.certSerial === summary.ariId && Date.parse(state.ari.retryAfter) > now
      ? state.ari
      : undefined;
  const ariBlocked = state.ariUnavailableUntil && Date.parse(state.ariUnavailableUntil) > now;
  let stateChanged = false;
  if (!ari && summary.ariId && !ariBlocked) {
    const info = await fetchAri(store, name, summary.ariId, sessions, logger);
    if (info) {
      const selected = ariSelectedTime(info, state.ari?.certSerial === summary.ariId ? state.ari : undefined);
      ari = {
        windowStart: info.suggestedWindow.start.toISOString(),
        windowEnd: info.suggestedWindow.end.toISOString(),
        selectedTime: selected.toISOString(),
        retryAfter: info.retryAfter.toISOString(),
        certSerial: summary.ariId,
        ...(info.explanationURL ? { explanationUrl: info.explanationURL } : {}),
      };
      state.ari = ari;
      delete state.ariUnavailableUntil;
    } else {
      state.ariUnavailableUntil = new Date(now + (info === null ? 24 : 1) * 3_600_000).toISOString();
    }
    stateChanged = true;
  }
  if (ari) {
    const at = new Date(ari.selectedTime);
    return {
      due: at.getTime() <= now,
      reason: `ARI window ${ari.windowStart} .. ${ari.windowEnd}`,
      at,
      stateChanged,
    };
  }
  const at = lifetimeRenewalTime(summary.notBefore, summary.notAfter);
  return { due: at.getTime() <= now, reason: 'lifetime (no ARI)', at, stateChanged };
}

/** null: the CA has no ARI; undefined: ARI failed this time (fall back, ask again later). */
async function fetchAri(
  store: StateStore,
  name: string,
  ariId: string,
  sessions: SessionCache,
  logger: Logger,
): Promise<RenewalInfo | null | undefined> {
  try {
    const params = (await store.getParams(name))?.value;
    if (!params) return undefined;
    const session = await sessions.get(params.server);
    return await session.client.renewalInfoById(ariId);
  } catch (err) {
    logger.info({ name }, `ARI unavailable, using the lifetime rule: ${errorText(err)}`);
    return undefined;
  }
}

/** One ACME session per server and one provider per DNS credentials name, shared by a run. */
class SessionCache {
  private readonly accounts = new Map<string, Promise<AccountSession>>();
  private readonly providers = new Map<string, Promise<DnsProvider>>();

  constructor(
    private readonly store: StateStore,
    private readonly env: RenewEnv,
  ) {}

  get(server: string): Promise<AccountSession> {
    let s = this.accounts.get(server);
    if (!s) {
      s = openAccount(this.store, server, this.env);
      s.catch(() => this.accounts.delete(server));
      this.accounts.set(server, s);
    }
    return s;
  }

  dns(name: string): Promise<DnsProvider> {
    let p = this.providers.get(name);
    if (!p) {
      p = this.store.getDns(name).then((rec) => {
        if (!rec)
          throw configError(
            `no DNS credentials named "${name}" in ${this.store.location}`,
            'restore them with `certvault dns set`',
          );
        return createDnsProvider(rec.value.provider, rec.value.settings, { logger: this.env.logger });
      });
      this.providers.set(name, p);
    }
    return p;
  }

  async close(): Promise<void> {
    for (const s of this.accounts.values()) await s.then((x) => x.client.close()).catch(() => undefined);
  }
}
