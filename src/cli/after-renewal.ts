import { Option, type Command } from 'commander';
import { usageError } from '../errors.js';
import { seconds } from './commands/issue.js';

/** Options shared by `renew` and `serve` for what happens after a certificate is renewed. */
export interface AfterRenewalCliOptions {
  deployHook?: string;
  webhook?: string;
  hookTimeout: string;
}

export interface AfterRenewalSettings {
  deployHook?: string | undefined;
  webhookUrl?: string | undefined;
  timeoutMs: number;
}

export function addAfterRenewalOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        '--deploy-hook <command>',
        "shell command run after each successful renewal (after the certificate's own hook), with CERTVAULT_NAME, CERTVAULT_DOMAINS, CERTVAULT_VAULT_PATH",
      ).env('CERTVAULT_DEPLOY_HOOK'),
    )
    .addOption(
      new Option(
        '--webhook <url>',
        'POST a JSON event {event, name, domains, notAfter, reason} on each renewal and failure',
      ).env('CERTVAULT_WEBHOOK_URL'),
    )
    .option(
      '--hook-timeout <seconds>',
      "limit per hook and webhook; a hook's process group is killed after it",
      '60',
    );
}

/** Validates before any I/O so that a bad value is a usage error (exit 2). */
export function afterRenewalSettings(opts: AfterRenewalCliOptions): AfterRenewalSettings {
  if (opts.webhook !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(opts.webhook);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      throw usageError('invalid --webhook URL', 'give an http:// or https:// URL');
    }
  }
  return {
    deployHook: opts.deployHook || undefined,
    webhookUrl: opts.webhook || undefined,
    timeoutMs: seconds('--hook-timeout', opts.hookTimeout),
  };
}
