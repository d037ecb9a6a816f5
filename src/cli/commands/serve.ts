import type { Command } from 'commander';
import type { RunReport } from '../../core/serve.js';
import { usageError } from '../../errors.js';
import { afterRenewalSettings } from '../after-renewal.js';
import type { Context } from '../context.js';
import { parseDuration, parseFraction } from '../duration.js';
import { interruptSignal, print } from '../output.js';
import { addRenewOptions, renewOptionsFrom, type RenewCliOptions } from './renew.js';

interface ServeCliOptions extends RenewCliOptions {
  listen: string;
  interval: string;
  jitter: string;
  readyIntervals: string;
}

export function registerServe(program: Command, ctx: () => Context): void {
  const cmd = program
    .command('serve')
    .description('run as a service: renew on a schedule and serve /metrics, /healthz and /readyz')
    .option(
      '--listen <host:port>',
      'address of the metrics and health endpoints (port 0: any free port)',
      '127.0.0.1:9180',
    )
    .option('--interval <duration>', 'time between renewal runs: 15m, 1h, 90s', '15m')
    .option('--jitter <share>', 'random spread of each wait, so replicas do not run in lockstep', '10%')
    .option(
      '--ready-intervals <n>',
      '/readyz fails when the store (or a failing CA) has not answered within this many intervals',
      '3',
    );
  addRenewOptions(cmd)
    .addHelpText(
      'after',
      `
Each run renews what is due, exactly like \`certvault renew\` (leases make any number of replicas safe).
A failed run (Vault sealed or unreachable, network down) is logged and retried sooner, doubling from 30s
up to the interval. SIGTERM or Ctrl-C aborts the running renewal (leases are released) and exits 0.
One line per run goes to stdout (a JSON object per line with --json); logs go to stderr.

Examples:
  certvault serve
  certvault serve --listen 0.0.0.0:9180 --interval 1h --deploy-hook 'systemctl reload nginx'
  certvault serve --json --log-format json --webhook https://hooks.example.com/certs
  curl -s 127.0.0.1:9180/readyz`,
    )
    .action(async (opts: ServeCliOptions) => {
      const c = ctx();
      const renew = renewOptionsFrom([], opts);
      const after = afterRenewalSettings(opts);
      const listen = parseListen(opts.listen);
      const intervalMs = parseDuration('--interval', opts.interval);
      const jitter = parseFraction('--jitter', opts.jitter);
      const readyIntervals = Number(opts.readyIntervals);
      if (!Number.isInteger(readyIntervals) || readyIntervals < 1)
        throw usageError(
          `invalid --ready-intervals "${opts.readyIntervals}"`,
          'give a whole number of at least 1',
        );

      const [{ serve }, { Metrics }, { afterRenewal }] = await Promise.all([
        import('../../core/serve.js'),
        import('../../ops/metrics.js'),
        import('../../core/hooks.js'),
      ]);
      // Start and stop are shown at the default level (warn) too, as log lines (JSON with --log-format json).
      const lifecycle = c.logger.level === 'warn' ? c.logger.child({}, { level: 'info' }) : c.logger;
      const interrupt = interruptSignal();
      const hooks = { ...after, logger: c.logger, signal: interrupt.signal };
      try {
        await serve(
          { ...listen, intervalMs, jitter, readyIntervals, renew },
          {
            openStore: async () => (await c.open()).store,
            env: { ...(await c.acme()), logger: c.logger, progress: (m) => c.logger.info(m) },
            metrics: new Metrics(),
            afterResult: (store, entry, cert) => afterRenewal(store, hooks)(entry, cert),
            onListening: (url) =>
              lifecycle.info(`serving ${url}/metrics, /healthz and /readyz; renewing every ${opts.interval}`),
            onRun: (report) =>
              c.json ? process.stdout.write(`${JSON.stringify(report)}\n`) : print(summary(report)),
            logger: c.logger,
            signal: interrupt.signal,
          },
        );
        lifecycle.info('stopped');
      } finally {
        interrupt.dispose();
      }
    });
}

/** `host:port` or `[v6]:port`; port 0 picks a free one (tests). */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9._-]+)):(\d{1,5})$/.exec(value.trim());
  const port = Number(m?.[3]);
  if (!m || port > 65535)
    throw usageError(`invalid --listen "${value}"`, 'use HOST:PORT, e.g. 127.0.0.1:9180 or [::1]:9180');
  return { host: (m[1] ?? m[2]) as string, port };
}

function summary(r: RunReport): string {
  const at = r.startedAt.slice(0, 19).replace('T', ' ');
  const next = `next run ${r.nextRunAt.slice(0, 19).replace('T', ' ')}Z`;
  if (r.error) return `${at}Z run failed: ${r.error}; ${next}`;
  const counts = Object.entries(
    r.entries.reduce<Record<string, number>>(
      (acc, e) => ({ ...acc, [e.outcome]: (acc[e.outcome] ?? 0) + 1 }),
      {},
    ),
  )
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  const notable = r.entries
    .filter((e) => e.outcome === 'renewed' || e.outcome === 'failed' || e.hook)
    .map(
      (e) =>
        `${e.name} ${e.outcome}${e.outcome === 'failed' && e.reason ? ` (${e.reason})` : ''}${e.hook ? ` hook: ${e.hook}` : ''}`,
    );
  return `${at}Z run: ${counts || 'no certificates'}${notable.length ? `; ${notable.join('; ')}` : ''}; ${next}`;
}
