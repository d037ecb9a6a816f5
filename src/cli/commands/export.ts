import { Option, type Command } from 'commander';
import type { ExportRun, ExportTarget } from '../../core/export.js';
import { usageError } from '../../errors.js';
import { validateStoreName } from '../../store/names.js';
import type { Context } from '../context.js';
import { interruptSignal, print, printJson } from '../output.js';
import { resolveValue } from '../values.js';
import { seconds } from './issue.js';
import { parseDuration } from '../duration.js';

interface ExportCliOptions {
  dir: string;
  format: ExportTarget['format'];
  p12Password?: string;
  owner?: string;
  reload?: string;
  reloadTimeout: string;
  watch?: boolean;
  interval: string;
}

export function registerExport(program: Command, ctx: () => Context): void {
  program
    .command('export')
    .argument('<name>', 'stored certificate (see `certvault list`)')
    .description(
      'write a stored certificate and its key to files for servers that read files; optionally keep them current',
    )
    .requiredOption('--dir <dir>', 'folder to write into (created when missing)')
    .addOption(
      new Option(
        '--format <format>',
        'certbot: cert.pem, chain.pem, fullchain.pem, privkey.pem; pem: NAME.pem (key + full chain); pkcs12: NAME.p12',
      )
        .choices(['certbot', 'pem', 'pkcs12'])
        .default('certbot'),
    )
    .option(
      '--p12-password <@env:VAR|@file:PATH>',
      'password of the PKCS#12 file (never on the command line itself)',
    )
    .option('--owner <user:group>', 'owner of the files (needs root); key files are always 0600, others 0644')
    .option(
      '--reload <command>',
      'shell command run (via /bin/sh -c) after a file changed, e.g. "systemctl reload nginx"',
    )
    .option(
      '--reload-timeout <seconds>',
      'limit for the reload command; its process group is killed after it',
      '60',
    )
    .option(
      '--watch',
      'keep running: check the stored version every interval and export again when it changed',
    )
    .option('--interval <duration>', 'how often --watch checks (reads metadata only): 30s, 5m, 1h', '5m')
    .addHelpText(
      'after',
      `
Files are replaced atomically one by one; the reload runs once all are in place, and only when a file's
content changed. With --watch, SIGTERM or Ctrl-C stops after the current step (exit 0).
PKCS#12 files are built with \`openssl pkcs12 -export\` (OpenSSL 3 defaults: AES-256, PBKDF2).

Examples:
  certvault export example.com --dir /etc/nginx/tls/example.com --reload 'systemctl reload nginx'
  certvault export example.com --dir /etc/haproxy/certs --format pem --owner haproxy:haproxy
  certvault export example.com --dir /opt/app/tls --format pkcs12 --p12-password @env:P12_PASSWORD
  certvault export example.com --dir /tls --watch --interval 10m --reload 'nginx -s reload'   # sidecar`,
    )
    .action(async (name: string, opts: ExportCliOptions) => {
      const c = ctx();
      validateStoreName('certificate', name);
      if (opts.p12Password !== undefined && !/^@(env|file):/.test(opts.p12Password)) {
        throw usageError(
          '--p12-password must be @env:VAR or @file:PATH',
          'a password on the command line is visible to every user of the machine',
        );
      }
      if (opts.format === 'pkcs12' && opts.p12Password === undefined)
        throw usageError('--format pkcs12 needs --p12-password', 'give @env:VAR or @file:PATH');
      const reloadTimeoutMs = seconds('--reload-timeout', opts.reloadTimeout);
      const intervalMs = parseDuration('--interval', opts.interval);
      const { exportAndReload, resolveOwner, watchExport } = await import('../../core/export.js');
      const target: ExportTarget = {
        name,
        dir: opts.dir,
        format: opts.format,
        p12Password:
          opts.p12Password === undefined
            ? undefined
            : resolveValue('--p12-password', opts.p12Password, () => ''),
        owner: opts.owner === undefined ? undefined : await resolveOwner(opts.owner),
      };
      const reload = opts.reload ? { command: opts.reload, timeoutMs: reloadTimeoutMs } : undefined;

      if (!opts.watch) {
        const { store } = await c.open();
        const run = await exportAndReload(store, target, reload);
        report(run, c.json, false);
        if (run.reload && !run.reload.ok) process.exitCode = 1;
        return;
      }
      const interrupt = interruptSignal();
      try {
        await watchExport(async () => (await c.open()).store, target, {
          intervalMs,
          signal: interrupt.signal,
          logger: c.logger,
          reload,
          onExport: (run) => report(run, c.json, true),
        });
      } finally {
        interrupt.dispose();
      }
    });
}

function report(run: ExportRun, json: boolean, watching: boolean): void {
  const { result, reload } = run;
  if (json) {
    const view = {
      name: result.name,
      version: result.version,
      notAfter: result.notAfter,
      changed: result.changed,
      files: result.files,
      written: result.written,
      ...(reload ? { reload } : {}),
    };
    // --watch prints one compact line per export (NDJSON), so a reader can follow it line by line.
    if (watching) process.stdout.write(`${JSON.stringify({ at: new Date().toISOString(), ...view })}\n`);
    else printJson(view);
    return;
  }
  const what = result.changed ? `wrote ${result.written.length} file(s)` : 'unchanged';
  const reloaded = reload ? `; reload ${reload.ok ? 'ok' : `failed: ${reload.detail}`}` : '';
  const prefix = watching ? `${new Date().toISOString()} ` : '';
  print(
    `${prefix}${result.name} version ${result.version} (valid until ${result.notAfter}): ${what}${reloaded}`,
  );
}
