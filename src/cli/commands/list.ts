import type { Command } from 'commander';
import type { Context } from '../context.js';
import type { RenewalStatus } from '../../store/types.js';
import { colourDays, daysLeft, dim, print, printJson, red, shortTime, table } from '../output.js';

export function registerList(program: Command, ctx: () => Context): void {
  program
    .command('list')
    .description(
      'list stored certificates with their renewal status (from the summary index, never a private key)',
    )
    .option(
      '--no-index',
      "ignore the summary index and read each certificate's own metadata (slower; for certificates rewritten by other tools)",
    )
    .addHelpText(
      'after',
      "\nExamples:\n  certvault list\n  certvault list --json | jq -r '.[] | select(.daysLeft < 30) | .name'",
    )
    .action(async (opts: { index: boolean }) => {
      const c = ctx();
      const { store } = await c.open();
      const { inventory } = await import('../../core/inventory.js');
      const certs = await inventory(store, { useIndex: opts.index });
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
            failures: s.renewal?.failures ?? 0,
            lastProblem: s.renewal?.problem ?? null,
            nextAttemptAfter: s.renewal?.retryAfter ?? null,
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
          certs.map((s) => [
            s.name,
            abbreviate(s.domains),
            shortTime(s.notAfter),
            colourDays(daysLeft(s.notAfter)),
            status(s.renewal),
          ]),
        ),
      );
    });
}

function status(renewal: RenewalStatus | undefined): string {
  if (!renewal) return 'ok';
  return red(
    `${renewal.failures} failure(s): ${renewal.problem}, retry after ${shortTime(new Date(renewal.retryAfter))}`,
  );
}

function abbreviate(domains: string[]): string {
  return domains.length <= 3
    ? domains.join(',')
    : `${domains.slice(0, 2).join(',')} +${domains.length - 2} more`;
}
