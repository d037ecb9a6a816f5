import type { Command } from 'commander';
import type { Context } from '../context.js';
import { print, printJson } from '../output.js';

export function registerPolicy(program: Command, ctx: () => Context): void {
  program
    .command('policy')
    .argument(
      '<role>',
      'issuer (set up, issue, renew, list), renewer (renew only) or reader (one certificate, read-only)',
    )
    .description('print the least-privilege Vault policy (HCL) of a role for the configured mount and prefix')
    .option('--name <cert>', 'limit per-certificate paths to this certificate (required for reader)')
    .option('--kv-version <n>', 'KV engine version of the mount: 2 (default) or 1')
    .addHelpText(
      'after',
      `\nWith --json, prints the JSON policy form ({"path": {...}}) instead. Nothing is read from Vault.
See docs/security.md for AppRole and Kubernetes role setup.

Examples:
  certvault policy renewer | vault policy write certvault-renewer -
  certvault policy reader --name www.example.com | vault policy write web-www -
  certvault --vault-mount kv --vault-prefix acme policy issuer --kv-version 1`,
    )
    .action(async (roleName: string, opts: { name?: string; kvVersion?: string }) => {
      const c = ctx();
      const { parseKvVersion, parseRole, policyHcl, policyJson } = await import('../../core/policy.js');
      const { mountAndPrefix } = await import('../../store/open.js');
      const role = parseRole(roleName);
      const { mount, prefix } = mountAndPrefix(c.globals.vaultMount, c.globals.vaultPrefix);
      const layout = { mount, prefix, kvVersion: parseKvVersion(opts.kvVersion), name: opts.name };
      if (c.json) printJson(policyJson(role, layout));
      else print(policyHcl(role, layout).trimEnd());
    });
}
