import type { Command } from 'commander';
import type { Context } from '../context.js';
import { colourDays, daysLeft, dim, print, printJson, red, shortTime, table } from '../output.js';

export function registerList(program: Command, ctx: () => Context): void {
  program
    .command('list')
    .description('list stored certificates with their renewal status (reads metadata only, never a private key)')
    .addHelpText('after', '\nExamples:\n  certvault list\n  certvault list --json | jq -r \'.[] | select(.daysLeft < 30) | .name\'')
    .action(async () => {
      const c = ctx();
      const { store } = await c.open();
      const { inventory } = await import('../../core/inventory.js');
      const certs = await inventory(store);
      if (c.json) {
        printJson(
          certs.map((s) => ({
            name: s.name,
            domains: s.domains,
            notBefore: s.notBefore.toISOString(),
            notAfter: s.notAfter.toISOString(),
            daysLeft: daysLeft(s.notAfter),
            serial: s.serial,
            issuer: s.issuer,
            keyType: s.keyType,
            version: s.version,
            nextRenewal: s.state?.ari?.selectedTime ?? null,
            failures: s.state?.failures ?? 0,
            nextAttemptAfter: s.state?.nextAttemptAfter ?? null,
            lastProblem: s.state?.lastProblem ?? null,
          })),
        );
        return;
      }
      if (certs.length === 0) {
        print(dim(`no certificates in ${store.location}`));
        return;
      }
      print(
        table(
          ['NAME', 'DOMAINS', 'NOT AFTER', 'DAYS LEFT', 'STATUS'],
          certs.map((s) => [s.name, abbreviate(s.domains), shortTime(s.notAfter), colourDays(daysLeft(s.notAfter)), status(s.state)]),
        ),
      );
    });
}

function status(state: { failures: number; lastProblem?: { type: string } | undefined; nextAttemptAfter?: string | undefined } | null): string {
  if (!state?.failures) return 'ok';
  return red(`${state.failures} failure(s): ${state.lastProblem?.type ?? 'error'}${state.nextAttemptAfter ? `, retry after ${shortTime(new Date(state.nextAttemptAfter))}` : ''}`);
}

function abbreviate(domains: string[]): string {
  return domains.length <= 3 ? domains.join(',') : `${domains.slice(0, 2).join(',')} +${domains.length - 2} more`;
}
