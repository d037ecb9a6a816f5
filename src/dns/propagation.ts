import { setTimeout as sleep } from 'node:timers/promises';
import { CertvaultError, errorText, operationError } from '../errors.js';
import { silentLogger, type Logger } from '../ops/log.js';
import { formatHostPort, type HostPort } from './hostport.js';
import { normalizeName, sameName } from './names.js';
import {
  findZone,
  query,
  queryAny,
  resolveChallengeTarget,
  rrText,
  systemResolvers,
  txtValues,
} from './query.js';

/** Polls authoritative servers (RD=0) until every one serves all the expected TXT values. */

export interface PropagationOptions {
  fqdn: string;
  values: string[];
  /** Check exactly these servers (RD=0). Otherwise the zone's NS servers are found via `resolvers`. */
  servers?: HostPort[];
  /** Recursive resolvers for CNAME, zone and NS look-ups. Default: /etc/resolv.conf. */
  resolvers?: HostPort[];
  /** Default 120000. */
  timeoutMs?: number;
  /** Pause between rounds; the first round runs at once. Default 1000. */
  intervalMs?: number;
  /** Per query. Default 2000 (capped by the time left). */
  queryTimeoutMs?: number;
  /** Check where the CNAME chain from fqdn ends. Default true. */
  followCname?: boolean;
  /** Port of the discovered authoritative servers. Default 53 (tests use another). */
  authoritativePort?: number;
  signal?: AbortSignal;
  onProgress?: (p: PropagationProgress) => void;
  logger?: Logger;
}

export interface PropagationProgress {
  round: number;
  name: string;
  /** Servers that do not serve every value yet, with why. */
  pending: string[];
  total: number;
}

export interface PropagationResult {
  name: string;
  servers: HostPort[];
  rounds: number;
}

interface Target {
  name: string;
  servers: { server: HostPort; label: string }[];
}

export async function waitForPropagation(opts: PropagationOptions): Promise<PropagationResult> {
  const log = opts.logger ?? silentLogger;
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const intervalMs = opts.intervalMs ?? 1000;
  const deadline = Date.now() + timeoutMs;
  const values = [...new Set(opts.values)];
  let target: Target | undefined;
  let pending: string[];
  for (let round = 1; ; round++) {
    opts.signal?.throwIfAborted();
    const left = () => Math.max(1, deadline - Date.now());
    try {
      target ??= await discover(opts, left());
      // A floor on the per-query timeout: a last round squeezed to a few milliseconds would report
      // "no answer" instead of what the servers actually serve.
      const queryMs = Math.max(
        Math.min(opts.queryTimeoutMs ?? 2000, left()),
        Math.min(250, opts.queryTimeoutMs ?? 250),
      );
      pending = await checkRound(target, values, queryMs, opts.signal);
    } catch (err) {
      if (opts.signal?.aborted || !(err instanceof CertvaultError)) throw err;
      pending = [`(${errorText(err)})`];
    }
    const name = target?.name ?? normalizeName(opts.fqdn);
    if (target && pending.length === 0) {
      log.debug({ name, rounds: round }, 'TXT record visible on all servers');
      return { name, servers: target.servers.map((s) => s.server), rounds: round };
    }
    log.debug({ name, round, pending }, 'waiting for TXT record');
    opts.onProgress?.({ round, name, pending, total: target?.servers.length ?? 0 });
    const wait = Math.min(intervalMs, deadline - Date.now());
    if (wait <= 0) {
      if (!target) {
        throw operationError(
          `could not find the servers to check the TXT record at ${name} within ${seconds(timeoutMs)} ${pending.join(', ')}`,
          'pass the servers or resolvers to use',
        );
      }
      throw operationError(
        `TXT record at ${name} not visible after ${seconds(timeoutMs)} on ${pending.join(', ')}`,
        'check the DNS provider settings, or allow more time for propagation',
      );
    }
    await sleep(wait, undefined, opts.signal ? { signal: opts.signal } : {}).catch((err: unknown) => {
      throw opts.signal?.aborted ? opts.signal.reason : err;
    });
  }
}

/** Where to look: the name at the end of the CNAME chain and the servers to ask. */
async function discover(opts: PropagationOptions, timeoutMs: number): Promise<Target> {
  const q = {
    timeoutMs: Math.min(2000, timeoutMs),
    attempts: 2,
    ...(opts.signal ? { signal: opts.signal } : {}),
  };
  const resolvers = opts.resolvers ?? (opts.servers ? undefined : await systemResolvers());
  const lookupVia = resolvers ? { servers: resolvers, rd: true } : { servers: opts.servers ?? [], rd: false };
  const name =
    opts.followCname === false
      ? normalizeName(opts.fqdn)
      : await resolveChallengeTarget(opts.fqdn, lookupVia.servers, { ...q, rd: lookupVia.rd });
  if (opts.servers)
    return { name, servers: opts.servers.map((s) => ({ server: s, label: formatHostPort(s) })) };

  const via = resolvers ?? [];
  const zone = await findZone(name, via, { ...q, rd: true });
  const ns = await queryAny(via, zone, 'NS', q);
  const nsNames = ns.answers.filter((a) => a.type === 'NS' && sameName(a.name, zone)).map((a) => rrText(a));
  if (nsNames.length === 0) throw operationError(`no NS records found for zone ${zone}`);
  const port = opts.authoritativePort ?? 53;
  const servers: Target['servers'] = [];
  for (const nsName of nsNames) {
    for (const ip of await addressesOf(nsName, via, ns, q)) {
      servers.push({
        server: { host: ip, port },
        label: `${normalizeName(nsName)} (${formatHostPort({ host: ip, port })})`,
      });
    }
  }
  if (servers.length === 0) throw operationError(`no addresses found for the name servers of zone ${zone}`);
  return { name, servers };
}

async function addressesOf(
  nsName: string,
  resolvers: HostPort[],
  nsResponse: Awaited<ReturnType<typeof query>>,
  q: { timeoutMs: number; attempts: number; signal?: AbortSignal },
): Promise<string[]> {
  const isAddr = (a: { type: string; name: string }) =>
    (a.type === 'A' || a.type === 'AAAA') && sameName(a.name, nsName);
  const glue = nsResponse.additionals.filter(isAddr).map((a) => rrText(a));
  if (glue.length > 0) return glue;
  const out: string[] = [];
  for (const type of ['A', 'AAAA'] as const) {
    const res = await queryAny(resolvers, nsName, type, q);
    out.push(...res.answers.filter(isAddr).map((a) => rrText(a)));
  }
  return out;
}

/** One parallel round; returns the servers that lack a value, with the reason. */
async function checkRound(
  target: Target,
  values: string[],
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<string[]> {
  const results = await Promise.all(
    target.servers.map(async ({ server, label }) => {
      try {
        const res = await query(server, target.name, 'TXT', {
          rd: false,
          timeoutMs,
          attempts: 1,
          ...(signal ? { signal } : {}),
        });
        // NXDOMAIN is an empty RRset (fine when no value is expected); other errors are "not yet".
        if (res.rcode !== 0 && res.rcode !== 3) return `${label} (${res.rcodeName})`;
        const seen = new Set(txtValues(res, target.name));
        const missing = values.filter((v) => !seen.has(v)).length;
        return missing === 0 ? undefined : `${label} (${missing} of ${values.length} values missing)`;
      } catch (err) {
        if (signal?.aborted) throw err;
        return `${label} (${errorText(err)})`;
      }
    }),
  );
  return results.filter((r): r is string => r !== undefined);
}

const seconds = (ms: number): string => `${Number((ms / 1000).toFixed(1))} s`;
