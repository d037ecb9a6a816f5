import { Command, CommanderError, Option } from 'commander';
import { createContext, type Context, type GlobalOptions } from './context.js';
import { registerAccountCommand } from './commands/account.js';
import { registerDns } from './commands/dns.js';
import { registerIssue } from './commands/issue.js';
import { registerImport } from './commands/import.js';
import { registerRenew } from './commands/renew.js';
import { registerRevoke } from './commands/revoke.js';
import { registerDoctor } from './commands/doctor.js';
import { registerList } from './commands/list.js';
import { registerShow } from './commands/show.js';
import { registerServe } from './commands/serve.js';
import { registerExport } from './commands/export.js';
import { registerPolicy } from './commands/policy.js';
import { VERSION } from '../version.js';

export function buildProgram(): Command {
  const program = new Command('certvault');
  let context: Context | undefined;
  const ctx = (): Context => (context ??= createContext(program.opts<GlobalOptions>()));

  program
    .version(VERSION)
    .description('ACME certificates with DNS-01, every piece of state kept in HashiCorp Vault or OpenBao')
    .addOption(
      new Option(
        '--store <store>',
        'where state lives: "vault" or "file:PATH" (default: vault when VAULT_ADDR is set, else a local directory)',
      ).env('CERTVAULT_STORE'),
    )
    .addOption(new Option('--vault-addr <url>', 'Vault address').env('VAULT_ADDR'))
    .addOption(new Option('--vault-mount <path>', 'KV mount (default "secret")').env('CERTVAULT_VAULT_MOUNT'))
    .addOption(
      new Option('--vault-prefix <path>', 'path under the mount (default "lets-encrypt")').env(
        'CERTVAULT_VAULT_PREFIX',
      ),
    )
    .addOption(
      new Option('--vault-namespace <ns>', 'Vault Enterprise / OpenBao namespace').env('VAULT_NAMESPACE'),
    )
    .addOption(
      new Option('--vault-ca-cert <file>', "PEM CA bundle that signed Vault's TLS certificate").env(
        'VAULT_CACERT',
      ),
    )
    .addOption(
      new Option(
        '--vault-token-file <file>',
        'read the token from this file, re-read when it changes (e.g. a Vault Agent sink)',
      ).env('CERTVAULT_VAULT_TOKEN_FILE'),
    )
    .option('--vault-tls-skip-verify', "do not verify Vault's TLS certificate (insecure; for tests only)")
    .addOption(
      new Option(
        '--vault-auth <method>',
        'how to get a Vault token (default: approle when VAULT_ROLE_ID and VAULT_SECRET_ID are set, kubernetes in a pod with --vault-role, else token)',
      )
        .choices(['token', 'approle', 'kubernetes', 'jwt'])
        .env('CERTVAULT_VAULT_AUTH'),
    )
    .addOption(
      new Option('--vault-auth-mount <path>', 'auth method mount (default: approle, kubernetes or jwt)').env(
        'CERTVAULT_VAULT_AUTH_MOUNT',
      ),
    )
    .addOption(
      new Option('--vault-role <name>', 'Vault role for kubernetes and jwt logins').env(
        'CERTVAULT_VAULT_ROLE',
      ),
    )
    .addOption(
      new Option('--vault-role-id-file <file>', 'AppRole role id file (default: $VAULT_ROLE_ID)').env(
        'CERTVAULT_VAULT_ROLE_ID_FILE',
      ),
    )
    .addOption(
      new Option('--vault-secret-id-file <file>', 'AppRole secret id file (default: $VAULT_SECRET_ID)').env(
        'CERTVAULT_VAULT_SECRET_ID_FILE',
      ),
    )
    .option(
      '--vault-secret-id-wrapped',
      'the secret id is a response-wrapping token: unwrap it first (or CERTVAULT_VAULT_SECRET_ID_WRAPPED=true)',
    )
    .addOption(new Option('--vault-jwt-file <file>', 'JWT for jwt logins').env('CERTVAULT_VAULT_JWT_FILE'))
    .addOption(
      new Option(
        '--vault-kubernetes-token-file <file>',
        'service account token for kubernetes logins (default: /var/run/secrets/kubernetes.io/serviceaccount/token)',
      ).env('CERTVAULT_VAULT_KUBERNETES_TOKEN_FILE'),
    )
    .addOption(
      new Option(
        '--acme-ca-cert <file>',
        'PEM CA (or bundle) trusted for the ACME server connection instead of the system roots (private or test CA)',
      ).env('CERTVAULT_ACME_CA_CERT'),
    )
    .option('--json', 'machine-readable output on stdout')
    .addOption(
      new Option('--log-level <level>', 'debug, info, warn, error or silent')
        .default('warn')
        .env('CERTVAULT_LOG_LEVEL'),
    )
    .addOption(
      new Option('--log-format <format>', 'text or json (logs go to stderr)')
        .default('text')
        .env('CERTVAULT_LOG_FORMAT'),
    )
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({
      outputError: (str, write) =>
        write(`certvault: ${str.replace(/^error: /, 'error: ').trim()} (see certvault --help)\n`),
    })
    .addHelpText(
      'after',
      `
The token comes from VAULT_TOKEN, --vault-token-file or ~/.vault-token, or from an AppRole, Kubernetes or JWT
login (--vault-auth); tokens and secret ids are never accepted on the command line. See docs/security.md.

Examples:
  certvault list                               # certificates in the local store (no VAULT_ADDR)
  VAULT_ADDR=https://vault:8200 certvault doctor
  certvault show example.com --json`,
    );

  registerList(program, ctx);
  registerShow(program, ctx);
  registerDoctor(program, ctx);
  registerDns(program, ctx);
  registerAccountCommand(program, ctx);
  registerIssue(program, ctx);
  registerImport(program, ctx);
  registerRenew(program, ctx);
  registerRevoke(program, ctx);
  registerServe(program, ctx);
  registerExport(program, ctx);
  registerPolicy(program, ctx);
  return program;
}

export { CommanderError };
