import type { Command } from 'commander';
import { parseReason, revoke, REVOCATION_REASONS } from '../../core/revoke.js';
import type { Context } from '../context.js';
import { print, printJson } from '../output.js';

export function registerRevoke(program: Command, ctx: () => Context): void {
  program
    .command('revoke')
    .argument('<name>', 'stored certificate name')
    .description('revoke a stored certificate with the ACME account that issued it')
    .option('--reason <reason>', `one of ${Object.keys(REVOCATION_REASONS).join(', ')}`)
    .option('--server <server>', 'ACME server (default: the one the certificate was issued by)')
    .addHelpText('after', '\nExamples:\n  certvault revoke example.com --reason keyCompromise')
    .action(async (name: string, opts: { reason?: string; server?: string }) => {
      const c = ctx();
      const reason = parseReason(opts.reason);
      const { store } = await c.open();
      const res = await revoke(store, name, reason, opts.server, c.acme());
      if (c.json) printJson({ name, serial: res.serial, server: res.server, revoked: true });
      else print(`revoked ${name} (serial ${res.serial}) at ${res.server}; issue a new certificate to replace it`);
    });
}
