import type { Command } from 'commander';
import type { RenewEntry, RenewOptions } from '../../core/renew.js';
import { parseHostPort } from '../../dns/hostport.js';
import type { Metrics } from '../../ops/metrics.js';
import { errorText, usageError } from '../../errors.js';
import {
  addAfterRenewalOptions,
  afterRenewalSettings,
  type AfterRenewalCliOptions,
} from '../after-renewal.js';
import type { Context } from '../context.js';
import {
  dim,
  green,
  interruptSignal,
  print,
  printJson,
  progressReporter,
  red,
  shortTime,
  table,
  yellow,
} from '../output.js';
import { seconds } from './issue.js';

/** The renewal options `renew` and `serve` share. */
export interface RenewCliOptions extends AfterRenewalCliOptions {
  force?: boolean;
  dryRun?: boolean;
  concurrency: string;
  lockTtl: string;
  dnsResolvers?: string;
  propagationTimeout: string;
  timeout: string;
  metricsTextfile?: string;
  metricsPush?: string;
}

export function addRenewOptions(cmd: Command): Command {
  cmd
    .option('--concurrency <n>', 'certificates renewed in parallel', '4')
    .option(
      '--lock-ttl <seconds>',
      'lease length; a lease is extended while work goes on and taken over after it expires',
      '120',
    )
    .option(
      '--dns-resolvers <host:port,...>',
      "check propagation on these servers instead of the zone's authoritative ones",
    )
    .option('--propagation-timeout <seconds>', 'how long to wait for TXT records to be visible', '120')
    .option('--timeout <seconds>', 'limit per certificate for validation and issuance', '300');
  return addAfterRenewalOptions(cmd);
}

/** Parses the shared options; usage errors come before any I/O. */
export function renewOptionsFrom(names: string[], opts: RenewCliOptions): RenewOptions {
  const concurrency = Number(opts.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    throw usageError(`invalid --concurrency "${opts.concurrency}"`, 'give a whole number from 1 to 64');
  }
  return {
    names,
    force: opts.force === true,
    dryRun: opts.dryRun === true,
    concurrency,
    lockTtlMs: seconds('--lock-ttl', opts.lockTtl),
    dnsResolvers: opts.dnsResolvers?.split(',').map((s) => parseHostPort(s.trim())),
    propagationTimeoutMs: seconds('--propagation-timeout', opts.propagationTimeout),
    timeoutMs: seconds('--timeout', opts.timeout),
  };
}

export function registerRenew(program: Command, ctx: () => Context): void {
  const cmd = program
    .command('renew')
    .argument('[names...]', 'certificates to consider (default: all stored)')
    .description(
      'renew what is due (ARI first, else at 1/3 of the lifetime left), safely from any number of runners',
    )
    .option(
      '--force',
      'renew now whatever the schedule (each certificate once, even with concurrent runners)',
    )
    .option('--dry-run', 'print the plan and change nothing');
  addRenewOptions(cmd)
    .option(
      '--metrics-textfile <path.prom>',
      'write Prometheus metrics of this run for the node exporter textfile collector (atomically)',
    )
    .option(
      '--metrics-push <url>',
      'push Prometheus metrics of this run to a Pushgateway (PUT URL/metrics/job/certvault)',
    )
    .addHelpText(
      'after',
      `\nExit status: 0 when everything is fine or nothing is due, 1 when any certificate, deploy hook, webhook or metrics write failed (the others are still processed).\n\nExamples:\n  certvault renew                         # from cron, a CronJob or a systemd timer, as often as you like\n  certvault renew --dry-run               # what would happen, and when\n  certvault renew example.com --force\n  certvault renew --json | jq '.[] | select(.outcome == "failed")'\n  certvault renew --deploy-hook 'systemctl reload nginx' --webhook https://hooks.example.com/certs\n  certvault renew --metrics-textfile /var/lib/node_exporter/textfile/certvault.prom`,
    )
    .action(async (names: string[], opts: RenewCliOptions) => {
      const c = ctx();
      const options = renewOptionsFrom(names, opts);
      const after = afterRenewalSettings(opts);
      checkMetricsTargets(opts);
      const wantMetrics = Boolean(opts.metricsTextfile || opts.metricsPush);
      const metrics = wantMetrics ? new (await import('../../ops/metrics.js')).Metrics() : undefined;
      const unobserve = metrics?.observeRequests();
      const hooks = new Map<string, string>();
      const interrupt = interruptSignal();
      let entries: RenewEntry[] | undefined;
      try {
        const { store } = await c.open();
        const [{ renewAll }, { afterRenewal }, metricsModule] = await Promise.all([
          import('../../core/renew.js'),
          import('../../core/hooks.js'),
          metrics ? import('../../ops/metrics.js') : undefined,
        ]);
        const runHooks = afterRenewal(store, { ...after, logger: c.logger, signal: interrupt.signal });
        entries = await renewAll(store, options, {
          ...(await c.acme()),
          logger: c.logger,
          progress: progressReporter(c.json, (m) => c.logger.info(m)),
          signal: interrupt.signal,
          onResult: async (entry, cert) => {
            const hook = await runHooks(entry, cert);
            if (hook) hooks.set(entry.name, hook);
            if (metrics && metricsModule) await metricsModule.recordRenewResult(metrics, store, entry);
          },
        });
        const report: (RenewEntry & { hook?: string })[] = entries.map((e) => {
          const hook = hooks.get(e.name);
          return hook ? { ...e, hook } : e;
        });
        if (c.json) printJson(report);
        else print(renderReport(report));
        if (report.some((e) => e.outcome === 'failed' || e.hook?.startsWith('failed'))) process.exitCode = 1;
      } finally {
        interrupt.dispose();
        unobserve?.();
        if (metrics) {
          const ok = entries !== undefined && !entries.some((e) => e.outcome === 'failed');
          metrics.recordRun(ok);
          await writeMetrics(metrics, opts, c);
        }
      }
    });
}

/** Usage errors before any work, rather than after a run whose metrics would then be lost. */
function checkMetricsTargets(opts: RenewCliOptions): void {
  if (opts.metricsTextfile !== undefined && !opts.metricsTextfile.endsWith('.prom')) {
    throw usageError(
      `invalid --metrics-textfile "${opts.metricsTextfile}"`,
      'the node exporter only reads files ending in .prom',
    );
  }
  if (opts.metricsPush !== undefined && !/^https?:\/\/[^\s/]+/.test(opts.metricsPush)) {
    throw usageError(
      'invalid --metrics-push URL',
      'give the Pushgateway base URL, e.g. http://pushgateway:9091',
    );
  }
}

/** Metrics are written even when the run failed: that is when they matter most. */
async function writeMetrics(metrics: Metrics, opts: RenewCliOptions, c: Context): Promise<void> {
  const { writeTextfile, pushMetrics } = await import('../../ops/metrics.js');
  const text = await metrics.text();
  const targets: [string, () => Promise<void>][] = [];
  if (opts.metricsTextfile)
    targets.push(['textfile', () => writeTextfile(opts.metricsTextfile as string, text)]);
  if (opts.metricsPush)
    targets.push(['push', () => pushMetrics(opts.metricsPush as string, text, metrics.contentType)]);
  for (const [what, write] of targets) {
    try {
      await write();
    } catch (err) {
      c.logger.error(`metrics ${what} failed: ${errorText(err)}`);
      process.exitCode = 1;
    }
  }
}

function renderReport(
  entries: (Pick<RenewEntry, 'name' | 'outcome' | 'reason' | 'next'> & { hook?: string | undefined })[],
): string {
  if (entries.length === 0) return dim('no certificates stored');
  const paint: Record<string, (s: string) => string> = {
    renewed: green,
    failed: red,
    deferred: yellow,
    'would-renew': yellow,
  };
  const withHooks = entries.some((e) => e.hook);
  const rows = entries.map((e) => [
    e.name,
    (paint[e.outcome] ?? dim)(e.outcome),
    e.next ? shortTime(new Date(e.next)) : '',
    ...(withHooks ? [e.hook ? (e.hook === 'ok' ? green : red)(e.hook) : ''] : []),
    e.reason ?? '',
  ]);
  const counts = Object.entries(
    entries.reduce<Record<string, number>>(
      (acc, e) => ({ ...acc, [e.outcome]: (acc[e.outcome] ?? 0) + 1 }),
      {},
    ),
  )
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  return `${table(['NAME', 'RESULT', 'NEXT', ...(withHooks ? ['HOOK'] : []), 'REASON'], rows)}\n${counts}`;
}
