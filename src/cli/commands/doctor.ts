import type { Command } from 'commander';
import type { Context } from '../context.js';
import { green, print, printJson, red, yellow } from '../output.js';

export function registerDoctor(program: Command, ctx: () => Context): void {
  program
    .command('doctor')
    .description(
      'check the store: Vault reachability, login/token, KV mount and version, and per workflow (setup, issue, renew, list, read) whether this identity may run it',
    )
    .option(
      '--name <cert>',
      'check per-certificate capabilities on this certificate (a reader policy names one)',
    )
    .addHelpText(
      'after',
      '\nWorkflows this identity may not run are warnings naming each missing capability and path; `certvault policy ROLE` prints what to grant.\n\nExamples:\n  VAULT_ADDR=https://vault:8200 certvault doctor\n  certvault doctor --name www.example.com --json',
    )
    .action(async (opts: { name?: string }) => {
      const c = ctx();
      const { runDoctor } = await import('../../core/doctor.js');
      const checks = await runDoctor(() => c.open(), { name: opts.name });
      const failed = checks.some((ch) => !ch.ok && !ch.warning);
      if (c.json) printJson({ ok: !failed, checks });
      else {
        for (const ch of checks) {
          const mark = ch.ok && !ch.warning ? green('ok  ') : ch.warning ? yellow('warn') : red('FAIL');
          print(`${mark} ${ch.name}: ${ch.detail}${ch.fix ? `\n     fix: ${ch.fix}` : ''}`);
        }
      }
      if (failed) process.exitCode = 1;
    });
}
