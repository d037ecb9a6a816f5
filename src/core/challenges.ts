import type { AcmeClient, AcmeAuthorization, Dns01Challenge } from '../acme/index.js';
import {
  resolveChallengeTarget,
  systemResolvers,
  waitForPropagation,
  formatHostPort,
  type DnsProvider,
  type HostPort,
} from '../dns/index.js';
import { errorText } from '../errors.js';
import type { Logger } from '../ops/log.js';

/** How DNS-01 records are published and checked for one run. */
export interface DnsSolver {
  provider: DnsProvider;
  /** `--dns-resolvers`: where to look up CNAMEs and check propagation (RD=0). */
  resolvers?: HostPort[] | undefined;
  /** Overall propagation deadline per name. */
  propagationTimeoutMs: number;
}

interface Group {
  /** `_acme-challenge.<domain>` as the CA asks for it. */
  recordName: string;
  /** Where the record is written (after following CNAMEs). */
  target: string;
  values: string[];
  challenges: Dns01Challenge[];
}

export interface SolveOptions {
  signal?: AbortSignal | undefined;
  deadline: Date;
  logger: Logger;
  progress: (message: string) => void;
}

/**
 * Solves every pending dns-01 authorization of an order: values for one name are published in one
 * provider call (wildcard + apex share `_acme-challenge.<domain>`), propagation is checked on the
 * authoritative servers, then the CA is told. Records are removed afterwards whatever happened,
 * including a Ctrl-C (the abort only stops waiting; cleanup runs with its own time budget).
 */
export async function solveDns01(
  client: AcmeClient,
  authzUrls: string[],
  solver: DnsSolver,
  opts: SolveOptions,
): Promise<void> {
  const authzs = await Promise.all(authzUrls.map((u) => client.getAuthorization(u, opts.signal)));
  const pending = authzs.filter((a): a is AcmeAuthorization => a.status === 'pending');
  if (pending.length === 0) return;
  const lookup = solver.resolvers ?? solver.provider.defaultCheckServers?.() ?? (await systemResolvers());
  const groups = await groupByName(
    pending.map((a) => client.dns01(a)),
    lookup,
    opts,
  );

  const published: Group[] = [];
  const refused = new Set<Group>();
  try {
    await Promise.all(
      groups.map(async (g) => {
        opts.progress(
          `publishing ${g.values.length} TXT value${g.values.length > 1 ? 's' : ''} at ${g.target}`,
        );
        published.push(g); // before present: a half-done present still gets cleaned up
        await solver.provider.present(g.target, g.values, opts.signal).catch((err: unknown) => {
          refused.add(g);
          throw err;
        });
      }),
    );
    await Promise.all(groups.map((g) => waitUntilVisible(g, solver, opts)));
    opts.progress(`asking the CA to validate ${pending.length} name${pending.length > 1 ? 's' : ''}`);
    const all = groups.flatMap((g) => g.challenges);
    await Promise.all(all.map((c) => client.respondChallenge(c.challenge.url, opts.signal)));
    await Promise.all(
      pending.map((a) => client.pollAuthorization(a.url, { deadline: opts.deadline, signal: opts.signal })),
    );
  } finally {
    await cleanup(published, refused, solver, opts.logger);
  }
}

async function groupByName(
  challenges: Dns01Challenge[],
  lookup: HostPort[],
  opts: SolveOptions,
): Promise<Group[]> {
  const byName = new Map<string, Group>();
  for (const ch of challenges) {
    let g = byName.get(ch.recordName);
    if (!g) {
      g = { recordName: ch.recordName, target: ch.recordName, values: [], challenges: [] };
      byName.set(ch.recordName, g);
    }
    if (!g.values.includes(ch.txtValue)) g.values.push(ch.txtValue);
    g.challenges.push(ch);
  }
  const groups = [...byName.values()];
  await Promise.all(
    groups.map(async (g) => {
      // Delegated validation: `_acme-challenge.example.com CNAME x.acme.example.net` is written at the target.
      g.target = await resolveChallengeTarget(g.recordName, lookup, { signal: opts.signal });
      if (g.target !== g.recordName)
        opts.logger.info({ from: g.recordName, to: g.target }, 'following CNAME for the challenge record');
    }),
  );
  return groups;
}

async function waitUntilVisible(g: Group, solver: DnsSolver, opts: SolveOptions): Promise<void> {
  const servers = solver.resolvers ?? solver.provider.defaultCheckServers?.();
  opts.progress(
    `waiting for ${g.target} on ${servers ? servers.map(formatHostPort).join(', ') : 'its authoritative servers'}`,
  );
  await waitForPropagation({
    fqdn: g.target,
    values: g.values,
    ...(servers ? { servers } : {}),
    followCname: false,
    timeoutMs: solver.propagationTimeoutMs,
    intervalMs: 250,
    ...(opts.signal ? { signal: opts.signal } : {}),
    logger: opts.logger,
  });
}

async function cleanup(
  groups: Group[],
  refused: Set<Group>,
  solver: DnsSolver,
  logger: Logger,
): Promise<void> {
  await Promise.all(
    groups.map(async (g) => {
      try {
        await solver.provider.cleanup(g.target, g.values, AbortSignal.timeout(30_000));
      } catch (err) {
        // A leftover TXT value is harmless for security but should be visible; where the provider
        // already refused to publish, the same refusal here is expected and only noise.
        const log = refused.has(g) ? logger.debug.bind(logger) : logger.warn.bind(logger);
        log({ name: g.target }, `could not remove challenge record: ${errorText(err)}`);
      }
    }),
  );
}
