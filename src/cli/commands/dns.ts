import type { Command } from 'commander';
import { providerSpecs, providerTypes } from '../../dns/specs.js';
import { operationError, usageError } from '../../errors.js';
import type { Context } from '../context.js';
import { print, printJson, table } from '../output.js';
import { parsePairs, resolveValue, stdinOnce } from '../values.js';

function providerHelp(): string {
  return providerTypes
    .map((t) => {
      const spec = providerSpecs[t];
      const keys = spec.keys.map(
        (k) =>
          `    ${k.name}${k.required ? '' : ' (optional)'}${k.secret ? ' [secret]' : ''}: ${k.description}`,
      );
      return `  ${t}: ${spec.description}\n${keys.join('\n')}`;
    })
    .join('\n');
}

export function registerDns(program: Command, ctx: () => Context): void {
  const dns = program
    .command('dns')
    .description('manage DNS provider credentials stored in Vault')
    .addHelpText(
      'after',
      '\nExamples:\n  certvault dns set corp --provider rfc2136 server=ns1.example.com tsig-key=acme tsig-secret=@env:TSIG_SECRET\n  certvault dns list\n  certvault dns remove corp',
    );

  dns
    .command('set')
    .argument('<name>', 'a name for these credentials, used with `issue --dns NAME`')
    .argument('[settings...]', 'key=value pairs; a value may be @env:VAR, @file:PATH or @- (stdin)')
    .requiredOption('--provider <type>', `provider type: ${providerTypes.join(', ')}`)
    .description('store (or replace) credentials for a DNS provider')
    .addHelpText(
      'after',
      `\nProviders and their settings:\n${providerHelp()}\n\nExamples:\n  certvault dns set corp --provider rfc2136 server=10.0.0.53 tsig-key=acme tsig-secret=@env:TSIG_SECRET\n  certvault dns set shop --provider dnsimple account=12345 token=@file:/run/secrets/dnsimple\n  echo "$TOKEN" | certvault dns set shop --provider dnsimple account=12345 token=@-`,
    )
    .action(async (name: string, pairs: string[], opts: { provider: string }) => {
      const c = ctx();
      if (!(providerTypes as string[]).includes(opts.provider)) {
        throw usageError(
          `unknown DNS provider type "${opts.provider}"`,
          `known types: ${providerTypes.join(', ')}`,
        );
      }
      const raw = parsePairs(pairs);
      const stdin = stdinOnce();
      const settings = Object.fromEntries(
        Object.entries(raw).map(([k, v]) => [k, resolveValue(k, v, stdin)]),
      );
      const secrets = providerSpecs[opts.provider as keyof typeof providerSpecs].keys
        .filter((k) => k.secret)
        .map((k) => k.name);
      for (const key of secrets) {
        const given = raw[key];
        if (given !== undefined && !given.startsWith('@')) {
          c.logger.warn(
            `${key} was given on the command line, where shell history and ps can see it; prefer ${key}=@env:VAR or @file:PATH`,
          );
        }
      }
      const { store } = await c.open();
      const { saveDnsCredentials } = await import('../../core/dns-credentials.js');
      await saveDnsCredentials(store, name, opts.provider, settings);
      if (c.json) printJson({ name, provider: opts.provider, stored: store.path('dns', name) });
      else print(`stored ${opts.provider} credentials "${name}" at ${store.path('dns', name)}`);
    });

  dns
    .command('list')
    .description('list stored DNS credentials (secret values are never shown)')
    .addHelpText('after', '\nExamples:\n  certvault dns list\n  certvault dns list --json')
    .action(async () => {
      const c = ctx();
      const { store } = await c.open();
      const { listDnsCredentials } = await import('../../core/dns-credentials.js');
      const all = await listDnsCredentials(store);
      if (c.json) return printJson(all);
      if (all.length === 0) return print('no DNS credentials stored; add some with `certvault dns set`');
      print(
        table(
          ['NAME', 'PROVIDER', 'SETTINGS', 'UPDATED'],
          all.map((d) => [
            d.name,
            d.provider,
            Object.entries(d.settings)
              .map(([k, v]) => `${k}=${v}`)
              .join(' '),
            d.updatedAt,
          ]),
        ),
      );
    });

  dns
    .command('remove')
    .argument('<name>')
    .description('delete stored DNS credentials')
    .addHelpText('after', '\nExamples:\n  certvault dns remove old-provider')
    .action(async (name: string) => {
      const c = ctx();
      const { store } = await c.open();
      if (!(await store.getDns(name)))
        throw operationError(`no DNS credentials named "${name}"`, 'see `certvault dns list`');
      await store.removeDns(name);
      if (c.json) printJson({ name, removed: true });
      else print(`removed DNS credentials "${name}"`);
    });
}
