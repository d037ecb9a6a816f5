import { Option, type Command } from 'commander';
import { KNOWN_SERVERS } from '../../acme/servers.js';
import { operationError, usageError } from '../../errors.js';
import { DEFAULT_KEY_TYPE, KEY_TYPES, type KeyType } from '../../pki/keys.js';
import type { Context } from '../context.js';
import { print, printJson } from '../output.js';
import { resolveValue, stdinOnce } from '../values.js';

const SERVER_HELP = `ACME server: ${Object.keys(KNOWN_SERVERS).join(', ')}, or a directory URL (default: the stored default, else letsencrypt)`;

export function registerAccountCommand(program: Command, ctx: () => Context): void {
  const account = program
    .command('account')
    .description('the ACME account (its key is kept in the store)')
    .addHelpText(
      'after',
      '\nExamples:\n  certvault account register --email ops@example.com --agree-tos\n  certvault account show --json',
    );

  account
    .command('register')
    .description('register an ACME account and store it; idempotent per server')
    .option('--email <address...>', 'contact e-mail for expiry and policy notices (repeatable)')
    .option('--agree-tos', "agree to the CA's terms of service (required)")
    .option('--server <server>', SERVER_HELP)
    .addOption(
      new Option('--key-type <type>', 'account key type').choices(KEY_TYPES).default(DEFAULT_KEY_TYPE),
    )
    .option('--eab-kid <kid>', 'External Account Binding key ID (ZeroSSL, Google, ...)')
    .option(
      '--eab-hmac-key <key>',
      'EAB HMAC key (base64url); use @env:VAR, @file:PATH or @- to keep it off the command line',
    )
    .addHelpText(
      'after',
      `\nLet's Encrypt's terms: https://letsencrypt.org/repository/\n\nExamples:\n  certvault account register --email ops@example.com --agree-tos\n  certvault account register --server letsencrypt-staging --email ops@example.com --agree-tos\n  certvault account register --server zerossl --email ops@example.com --agree-tos --eab-kid KID --eab-hmac-key @env:EAB_HMAC`,
    )
    .action(
      async (opts: {
        email?: string[];
        agreeTos?: boolean;
        server?: string;
        keyType: KeyType;
        eabKid?: string;
        eabHmacKey?: string;
      }) => {
        const c = ctx();
        const eab = eabOf(opts.eabKid, opts.eabHmacKey);
        const { store } = await c.open();
        const { registerAccount } = await import('../../core/account.js');
        const res = await registerAccount(
          store,
          {
            email: opts.email ?? [],
            agreeTos: opts.agreeTos === true,
            server: opts.server,
            keyType: opts.keyType,
            eab,
          },
          await c.acme(),
        );
        if (c.json)
          return printJson({
            created: res.created,
            server: res.server.id,
            directoryUrl: res.server.url,
            url: res.account.url,
            contact: res.account.contact,
          });
        print(
          res.created
            ? `registered account ${res.account.url} with ${res.server.id}`
            : `an account for ${res.server.id} is already stored: ${res.account.url}`,
        );
      },
    );

  account
    .command('show')
    .description('show the stored account for a server (never its key)')
    .addHelpText(
      'after',
      '\nExamples:\n  certvault account show\n  certvault account show --server letsencrypt-staging --json',
    )
    .option('--server <server>', SERVER_HELP)
    .action(async (opts: { server?: string }) => {
      const c = ctx();
      const { store } = await c.open();
      const { showAccount } = await import('../../core/account.js');
      const view = await showAccount(store, opts.server);
      if (!view)
        throw operationError(
          `no ACME account stored for ${opts.server ?? 'the default server'}`,
          'run `certvault account register --email ... --agree-tos`',
        );
      if (c.json) return printJson(view);
      const rows = [
        ['server', `${view.server}${view.default ? ' (default)' : ''}`],
        ['directory', view.directoryUrl],
        ['account', view.url],
        ['contact', view.contact.join(', ') || '-'],
        ['key type', view.keyType],
        ['created', view.createdAt],
      ];
      print(rows.map(([k, v]) => `${(k ?? '').padEnd(10)} ${v}`).join('\n'));
    });
}

function eabOf(
  kid: string | undefined,
  hmac: string | undefined,
): { kid: string; hmacKey: string } | undefined {
  if (kid === undefined && hmac === undefined) return undefined;
  if (!kid || !hmac)
    throw usageError('--eab-kid and --eab-hmac-key go together', 'pass both, as given by the CA');
  return { kid, hmacKey: resolveValue('--eab-hmac-key', hmac, stdinOnce()) };
}
