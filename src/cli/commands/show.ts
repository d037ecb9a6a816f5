import type { Command } from 'commander';
import { operationError } from '../../errors.js';
import type { Context } from '../context.js';
import { colourDays, daysLeft, print, printJson } from '../output.js';

export function registerShow(program: Command, ctx: () => Context): void {
  program
    .command('show')
    .argument('<name>', 'certificate name (the first domain without "*.")')
    .description('show one certificate: facts, issuance parameters and renewal state (no private key)')
    .option('--pem', 'also print the certificate chain (fullchain PEM; never the key)')
    .addHelpText('after', '\nExamples:\n  certvault show example.com\n  certvault show example.com --json')
    .action(async (name: string, opts: { pem?: boolean }) => {
      const c = ctx();
      const { store } = await c.open();
      const [summary, params, state] = await Promise.all([
        store.getCertificateSummary(name),
        store.getParams(name),
        store.getState(name),
      ]);
      if (!summary)
        throw operationError(
          `no certificate named "${name}" in ${store.location}`,
          'run `certvault list` to see the names',
        );
      const fullchain = opts.pem ? (await store.getCertificate(name))?.material.fullchain : undefined;
      const path = store.path('certificates', name);
      if (c.json) {
        printJson({
          name,
          path,
          domains: summary.domains,
          notBefore: summary.notBefore.toISOString(),
          notAfter: summary.notAfter.toISOString(),
          daysLeft: daysLeft(summary.notAfter),
          serial: summary.serial,
          issuer: summary.issuer,
          keyType: summary.keyType,
          version: summary.version,
          params: params?.value ?? null,
          state: state?.value ?? null,
          ...(fullchain ? { fullchain } : {}),
        });
        return;
      }
      const rows: [string, string][] = [
        ['name', name],
        ['stored at', path],
        ['domains', summary.domains.join(', ')],
        ['not before', summary.notBefore.toISOString()],
        [
          'not after',
          `${summary.notAfter.toISOString()} (${colourDays(daysLeft(summary.notAfter))} days left)`,
        ],
        ['serial', summary.serial],
        ['issuer', summary.issuer],
        ['key type', summary.keyType],
        ['version', String(summary.version)],
      ];
      if (params) {
        const p = params.value;
        rows.push(['server', p.server], ['dns provider', p.dns], ['profile', p.profile ?? '(CA default)']);
      } else {
        rows.push(['parameters', 'none stored (not issued by certvault; `certvault import` adopts it)']);
      }
      const s = state?.value;
      if (s?.ari)
        rows.push([
          'renewal (ARI)',
          `at ${s.ari.selectedTime}, window ${s.ari.windowStart} .. ${s.ari.windowEnd}`,
        ]);
      if (s?.failures) rows.push(['failures', String(s.failures)]);
      if (s?.nextAttemptAfter) rows.push(['next attempt after', s.nextAttemptAfter]);
      if (s?.lastProblem)
        rows.push(['last problem', `${s.lastProblem.type}: ${s.lastProblem.detail} (${s.lastProblem.at})`]);
      const width = Math.max(...rows.map(([k]) => k.length));
      print(rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n'));
      if (fullchain) print(`\n${fullchain.trimEnd()}`);
    });
}
