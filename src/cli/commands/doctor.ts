import type { Command } from 'commander';
import type { Context } from '../context.js';
import { green, print, printJson, red, yellow } from '../output.js';

export function registerDoctor(program: Command, ctx: () => Context): void {
  program
    .command('doctor')
    .description('check the store: Vault reachability, token, KV mount and version, capabilities per workflow')
    .addHelpText('after', '\nExamples:\n  VAULT_ADDR=https://vault:8200 certvault doctor\n  certvault doctor --json')
    .action(async () => {
      const c = ctx();
      const { runDoctor } = await import('../../core/doctor.js');
      const checks = await runDoctor(() => c.open());
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
