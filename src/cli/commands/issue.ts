import { Option, type Command } from 'commander';
import { parseHostPort } from '../../dns/hostport.js';
import { usageError } from '../../errors.js';
import { DEFAULT_KEY_TYPE, KEY_TYPES, type KeyType } from '../../pki/keys.js';
import type { Context } from '../context.js';
import { interruptSignal, print, printJson, progressReporter } from '../output.js';

interface IssueOptions {
  domain: string[];
  dns: string;
  name?: string;
  keyType: KeyType;
  reuseKey?: boolean;
  profile?: string;
  preferredChain?: string;
  deployHook?: string;
  hookTimeout: string;
  server?: string;
  force?: boolean;
  dnsResolvers?: string;
  propagationTimeout: string;
  timeout: string;
}

export function registerIssue(program: Command, ctx: () => Context): void {
  program
    .command('issue')
    .description(
      'obtain a certificate with DNS-01 and store it (certificate, key and parameters) in the store',
    )
    .requiredOption(
      '-d, --domain <name...>',
      'a name for the certificate (repeatable; "*.example.com" for a wildcard)',
    )
    .requiredOption(
      '--dns <name>',
      'stored DNS credentials to answer the challenges with (see `certvault dns list`)',
    )
    .option('--name <name>', 'store name (default: the first domain without "*.")')
    .addOption(
      new Option('--key-type <type>', 'certificate key type').choices(KEY_TYPES).default(DEFAULT_KEY_TYPE),
    )
    .option('--reuse-key', 'keep the current private key on later renewals (default: a new key each time)')
    .option(
      '--profile <profile>',
      'ACME certificate profile, e.g. "shortlived" (when the CA offers profiles)',
    )
    .option('--preferred-chain <issuer>', 'prefer the chain whose top certificate is issued by this CN')
    .option(
      '--deploy-hook <command>',
      'shell command run now and after every renewal of this certificate (kept in its parameters)',
    )
    .option(
      '--hook-timeout <seconds>',
      'limit for the deploy hook; its process group is killed after it',
      '60',
    )
    .option('--server <server>', 'ACME server (default: the stored default server)')
    .option('--force', 'replace an existing certificate of the same name')
    .option(
      '--dns-resolvers <host:port,...>',
      "check propagation (and find CNAMEs) on these servers instead of the zone's authoritative ones",
    )
    .option('--propagation-timeout <seconds>', 'how long to wait for the TXT records to be visible', '120')
    .option('--timeout <seconds>', 'overall limit for validation and issuance', '300')
    .addHelpText(
      'after',
      `\nExamples:\n  certvault issue -d example.com -d www.example.com --dns corp\n  certvault issue -d '*.example.com' -d example.com --dns corp          # stored as "example.com"\n  certvault issue -d api.example.com --dns corp --key-type rsa-2048 --profile shortlived\n  certvault issue -d mail.example.com --dns corp --deploy-hook 'certvault export "$CERTVAULT_NAME" --dir /etc/ssl/mail && systemctl reload postfix'`,
    )
    .action(async (opts: IssueOptions) => {
      const c = ctx();
      const request = {
        domains: opts.domain,
        name: opts.name,
        dns: opts.dns,
        keyType: opts.keyType,
        reuseKey: opts.reuseKey === true,
        profile: opts.profile,
        preferredChain: opts.preferredChain,
        deployHook: opts.deployHook,
        server: opts.server,
        force: opts.force === true,
        dnsResolvers: opts.dnsResolvers?.split(',').map((s) => parseHostPort(s.trim())),
        propagationTimeoutMs: seconds('--propagation-timeout', opts.propagationTimeout),
        timeoutMs: seconds('--timeout', opts.timeout),
      };
      const hookTimeoutMs = seconds('--hook-timeout', opts.hookTimeout);
      const { issue, prepareIssue } = await import('../../core/issue.js');
      prepareIssue(request); // usage errors before touching the store or the network
      const { store, vault } = await c.open();
      const progress = progressReporter(c.json, (m) => c.logger.info(m));
      const interrupt = interruptSignal();
      try {
        const { checkIssueAccess } = await import('../../core/access.js');
        const res = await issue(store, request, {
          ...(await c.acme()),
          progress,
          signal: interrupt.signal,
          logger: c.logger,
          checkAccess:
            vault &&
            ((name, exists) =>
              checkIssueAccess(
                vault.client,
                { mount: vault.mount.mount, prefix: store.prefix, kvVersion: vault.mount.version, name },
                exists,
                c.logger,
              )),
        });
        let hook: string | undefined;
        if (opts.deployHook) {
          const { runShell, hookEnvironment } = await import('../../core/hooks.js');
          const env = hookEnvironment(res.name, res.domains, res.path, res.facts.notAfter.toISOString());
          const ran = await runShell(opts.deployHook, {
            env,
            timeoutMs: hookTimeoutMs,
            signal: interrupt.signal,
          });
          hook = ran.ok ? 'ok' : `failed: deploy hook ${ran.detail}`;
          if (!ran.ok) process.exitCode = 1; // the certificate is stored, but it was not deployed
        }
        if (c.json) {
          printJson({
            name: res.name,
            domains: res.domains,
            path: res.path,
            version: res.version,
            notAfter: res.facts.notAfter.toISOString(),
            serial: res.facts.serial,
            chain: res.chain,
            ...(hook ? { hook } : {}),
          });
        } else {
          print(
            `issued ${res.name} (${res.domains.join(', ')}), valid until ${res.facts.notAfter.toISOString()}, stored at ${res.path} (version ${res.version})${hook ? `; hook: ${hook}` : ''}`,
          );
        }
      } finally {
        interrupt.dispose();
      }
    });
}

export function seconds(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw usageError(`invalid ${flag} "${value}"`, 'give a positive number of seconds');
  return n * 1000;
}
