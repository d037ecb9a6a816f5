import type { Command } from 'commander';
import { operationError, usageError } from '../../errors.js';
import type { ImportReport } from '../../core/import-common.js';
import type { Context } from '../context.js';
import { print, printJson, table } from '../output.js';

interface CommonOptions {
  dns?: string;
  force?: boolean;
  dryRun?: boolean;
}

export function registerImport(program: Command, ctx: () => Context): void {
  const cmd = program
    .command('import')
    .description(
      'take over state from the Certbot + Vault scripts or a Certbot directory (no new account, no new certificate)',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  certvault import seed --dry-run\n  certvault import certbot /etc/letsencrypt --dns corp',
    );

  cmd
    .command('seed')
    .description(
      'import what the "Certbot + Vault" scripts stored: account, DNSimple token, certificates\' metadata and parameters',
    )
    .option(
      '--dns <name>',
      'DNS credentials for the certificates: a name stored with `certvault dns set`, or the name to store the DNSimple token under (default "dnsimple")',
    )
    .option(
      '--seed-prefix <path>',
      "the scripts' path under the mount (default: --vault-prefix, i.e. lets-encrypt)",
    )
    .option(
      '--dnsimple-path <path>',
      'where the scripts stored the DNSimple token, under the mount',
      'dnsimple',
    )
    .option('--server <url>', 'ACME directory URL, needed when the account is not at a well-known CA')
    .option('--force', 'replace differing records already in the store (default: report them as conflicts)')
    .option('--dry-run', 'read and report, write nothing')
    .addHelpText(
      'after',
      `\nCertificate secrets under the same prefix are not rewritten: only their custom metadata is added.\nRunning it again changes nothing. See docs/migrate-from-seed.md.\n\nExamples:\n  certvault import seed --dry-run\n  certvault import seed\n  certvault import seed --dns corp                    # use stored credentials instead of the DNSimple token`,
    )
    .action(async (opts: CommonOptions & { seedPrefix?: string; dnsimplePath: string; server?: string }) => {
      const c = ctx();
      for (const [flag, value] of [
        ['--seed-prefix', opts.seedPrefix],
        ['--dnsimple-path', opts.dnsimplePath],
      ] as const) {
        if (value !== undefined && !isKvPath(value))
          throw usageError(
            `invalid ${flag} "${value}"`,
            'use a path like lets-encrypt (no empty, "." or ".." segments)',
          );
      }
      const { importSeed } = await import('../../core/import-seed.js');
      const { store } = await c.open();
      const report = await importSeed(store, {
        seedPrefix: opts.seedPrefix,
        dnsimplePath: opts.dnsimplePath,
        dns: opts.dns,
        server: opts.server,
        force: opts.force === true,
        dryRun: opts.dryRun === true,
      });
      show(report, c.json);
    });

  cmd
    .command('certbot')
    .argument('<dir>', 'Certbot configuration directory, e.g. /etc/letsencrypt')
    .description(
      'import accounts, certificates, renewal parameters and DNS credentials from a Certbot directory',
    )
    .option(
      '--dns <name>',
      'use these stored DNS credentials for every certificate instead of the ones the renewal confs name',
    )
    .option('--force', 'replace differing records already in the store (default: report them as conflicts)')
    .option('--dry-run', 'read and report, write nothing')
    .addHelpText(
      'after',
      `\nReads accounts/, renewal/*.conf, live/*/ and the credentials INI files the confs name; never writes there.\nRunning it again changes nothing. See docs/migrate-from-certbot.md.\n\nExamples:\n  sudo certvault import certbot /etc/letsencrypt --dry-run\n  sudo certvault import certbot /etc/letsencrypt`,
    )
    .action(async (dir: string, opts: CommonOptions) => {
      const c = ctx();
      const { importCertbot, readCertbotDir } = await import('../../core/import-certbot.js');
      const certbot = await readCertbotDir(dir); // local input problems before any store access
      const { store } = await c.open();
      const report = await importCertbot(store, certbot, {
        dns: opts.dns,
        force: opts.force === true,
        dryRun: opts.dryRun === true,
      });
      show(report, c.json);
    });
}

function isKvPath(p: string): boolean {
  const trimmed = p.replace(/^\/+|\/+$/g, '');
  return trimmed !== '' && trimmed.split('/').every((s) => s !== '' && s !== '.' && s !== '..');
}

const VERB: Record<string, [string, string]> = {
  import: ['imported', 'would import'],
  unchanged: ['unchanged', 'unchanged'],
  conflict: ['CONFLICT', 'CONFLICT'],
  skip: ['skipped', 'would skip'],
};

function show(report: ImportReport, json: boolean): void {
  if (json) printJson(report);
  else {
    const verb = (a: string) => VERB[a]?.[report.dryRun ? 1 : 0] ?? a;
    print(
      table(
        ['ACTION', 'KIND', 'NAME', 'DETAIL'],
        report.steps.map((s) => [verb(s.action), s.kind, s.name, s.detail]),
      ),
    );
    const { import: imported, unchanged, skip, conflict } = report.counts;
    const summary =
      imported === 0 && conflict === 0
        ? 'nothing new to import'
        : `${imported} ${report.dryRun ? 'to import' : 'imported'}`;
    print(
      `${summary}; ${unchanged} unchanged, ${skip} skipped, ${conflict} conflicts (${report.source} → ${report.store})${report.dryRun ? '; dry run, nothing written' : ''}`,
    );
  }
  if (report.counts.conflict > 0) {
    throw operationError(
      `${report.counts.conflict} record(s) in the store differ from the import and were left alone`,
      'compare them (see the CONFLICT lines), then re-run with --force to replace them',
    );
  }
}
