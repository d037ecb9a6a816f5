import type { Command } from 'commander';
import type { Context } from '../context.js';
import { print, printJson } from '../output.js';

export function registerRevoke(program: Command, ctx: () => Context): void {
  program
    .command('revoke')
    .argument('<name>', 'stored certificate name')
    .description('revoke a stored certificate with the ACME account that issued it')
    .option(
      '--reason <reason>',
      'unspecified, keyCompromise, affiliationChanged, superseded or cessationOfOperation',
    )
    .option('--server <server>', 'ACME server (default: the one the certificate was issued by)')
    .addHelpText('after', '\nExamples:\n  certvault revoke example.com --reason keyCompromise')
    .action(async (name: string, opts: { reason?: string; server?: string }) => {
      const c = ctx();
      const { parseReason, revoke } = await import('../../core/revoke.js');
      const reason = parseReason(opts.reason);
      const { store } = await c.open();
      const res = await revoke(store, name, reason, opts.server, await c.acme());
      if (c.json) printJson({ name, serial: res.serial, server: res.server, revoked: true });
      else
        print(
          `revoked ${name} (serial ${res.serial}) at ${res.server}; issue a new certificate to replace it`,
        );
    });
}
