import type { Command } from 'commander';
import { parseHostPort } from '../../dns/hostport.js';
import { usageError } from '../../errors.js';
import type { Context } from '../context.js';
import { dim, green, interruptSignal, print, printJson, progressReporter, red, shortTime, table, yellow } from '../output.js';
import { seconds } from './issue.js';

interface RenewCliOptions {
  force?: boolean;
  dryRun?: boolean;
  concurrency: string;
  lockTtl: string;
  dnsResolvers?: string;
  propagationTimeout: string;
  timeout: string;
}

export function registerRenew(program: Command, ctx: () => Context): void {
  program
    .command('renew')
    .argument('[names...]', 'certificates to consider (default: all stored)')
    .description('renew what is due (ARI first, else at 1/3 of the lifetime left), safely from any number of runners')
    .option('--force', 'renew now whatever the schedule (each certificate once, even with concurrent runners)')
    .option('--dry-run', 'print the plan and change nothing')
    .option('--concurrency <n>', 'certificates renewed in parallel', '4')
    .option('--lock-ttl <seconds>', 'lease length; a lease is extended while work goes on and taken over after it expires', '120')
    .option('--dns-resolvers <host:port,...>', 'check propagation on these servers instead of the zone\'s authoritative ones')
    .option('--propagation-timeout <seconds>', 'how long to wait for TXT records to be visible', '120')
    .option('--timeout <seconds>', 'limit per certificate for validation and issuance', '300')
    .addHelpText(
      'after',
      `\nExit status: 0 when everything is fine or nothing is due, 1 when any certificate failed (the others are still processed).\n\nExamples:\n  certvault renew                         # from cron, a CronJob or a systemd timer, as often as you like\n  certvault renew --dry-run               # what would happen, and when\n  certvault renew example.com --force\n  certvault renew --json | jq '.[] | select(.outcome == "failed")'`,
    )
    .action(async (names: string[], opts: RenewCliOptions) => {
      const c = ctx();
      const concurrency = Number(opts.concurrency);
      if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
        throw usageError(`invalid --concurrency "${opts.concurrency}"`, 'give a whole number from 1 to 64');
      }
      const options = {
        names,
        force: opts.force === true,
        dryRun: opts.dryRun === true,
        concurrency,
        lockTtlMs: seconds('--lock-ttl', opts.lockTtl),
        dnsResolvers: opts.dnsResolvers?.split(',').map((s) => parseHostPort(s.trim())),
        propagationTimeoutMs: seconds('--propagation-timeout', opts.propagationTimeout),
        timeoutMs: seconds('--timeout', opts.timeout),
      };
      const { store } = await c.open();
      const { renewAll } = await import('../../core/renew.js');
      const interrupt = interruptSignal();
      try {
        const entries = await renewAll(store, options, {
          ...(await c.acme()),
          logger: c.logger,
          progress: progressReporter(c.json, (m) => c.logger.info(m)),
          signal: interrupt.signal,
        });
        if (c.json) printJson(entries);
        else print(renderReport(entries));
        if (entries.some((e) => e.outcome === 'failed')) process.exitCode = 1;
      } finally {
        interrupt.dispose();
      }
    });
}

function renderReport(entries: { name: string; outcome: string; reason?: string; next?: string }[]): string {
  if (entries.length === 0) return dim('no certificates stored');
  const paint: Record<string, (s: string) => string> = { renewed: green, failed: red, deferred: yellow, 'would-renew': yellow };
  const rows = entries.map((e) => [
    e.name,
    (paint[e.outcome] ?? dim)(e.outcome),
    e.next ? shortTime(new Date(e.next)) : '',
    e.reason ?? '',
  ]);
  const counts = Object.entries(
    entries.reduce<Record<string, number>>((acc, e) => ({ ...acc, [e.outcome]: (acc[e.outcome] ?? 0) + 1 }), {}),
  )
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  return `${table(['NAME', 'RESULT', 'NEXT', 'REASON'], rows)}\n${counts}`;
}
