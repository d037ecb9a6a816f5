import { spawn } from 'node:child_process';
import { errorText } from '../errors.js';
import type { Logger } from '../ops/log.js';
import type { StateStore } from '../store/store.js';
import type { RenewEntry } from './renew.js';

/** How a hook, reload command or webhook went: `detail` is short and never carries secrets. */
export interface ActionResult {
  ok: boolean;
  detail: string;
}

/** After SIGTERM, a process group gets this long before SIGKILL. */
const KILL_GRACE_MS = 2_000;

/**
 * Runs `command` with /bin/sh -c in its own process group, output to our stderr (stdout stays clean
 * for `--json`). On timeout or `signal` the whole group is killed: a hook that started children
 * (`systemctl reload`, `sleep`) must not outlive its limit.
 */
export function runShell(
  command: string,
  opts: { env: Record<string, string>; timeoutMs: number; signal?: AbortSignal | undefined },
): Promise<ActionResult> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', command], {
      detached: true,
      stdio: ['ignore', 2, 2],
      env: { ...process.env, ...opts.env },
    });
    let stopped: string | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    const stop = (why: string) => {
      if (stopped || child.pid === undefined) return;
      stopped = why;
      killGroup(child.pid, 'SIGTERM');
      killTimer = setTimeout(() => killGroup(child.pid as number, 'SIGKILL'), KILL_GRACE_MS);
    };
    const timer = setTimeout(
      () => stop(`killed after the ${formatSeconds(opts.timeoutMs)} timeout`),
      opts.timeoutMs,
    );
    const onAbort = () => stop('interrupted');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const done = (result: ActionResult) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      clearTimeout(killTimer);
      // Children that ignored SIGTERM get SIGKILL now, even when the shell itself has exited.
      if (stopped && child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
      resolve(result);
    };
    child.on('error', (err) => done({ ok: false, detail: `cannot start /bin/sh: ${errorText(err)}` }));
    child.on('exit', (code, sig) => {
      if (stopped) return done({ ok: false, detail: stopped });
      if (code === 0) return done({ ok: true, detail: 'exit 0' });
      done({ ok: false, detail: code !== null ? `exit ${code}` : `killed by ${sig ?? 'a signal'}` });
    });
  });
}

function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    // Already gone.
  }
}

export function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`;
}

/** What a webhook receives: facts only, never key material, tokens or store addresses. */
export interface WebhookEvent {
  event: 'renewed' | 'failed';
  name: string;
  domains: string[];
  notAfter: string | null;
  reason: string | null;
}

/** POSTs `event` as JSON; a non-2xx answer, a network error or the timeout is a failure. */
export async function postWebhook(
  url: string,
  event: WebhookEvent,
  timeoutMs: number,
): Promise<ActionResult> {
  // The URL may carry a token (Slack, Teams): only its origin ever appears in messages.
  const origin = safeOrigin(url);
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'certvault' },
      body: JSON.stringify(event),
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'manual',
    });
    await res.body?.cancel().catch(() => undefined);
    return res.status >= 200 && res.status < 300
      ? { ok: true, detail: `HTTP ${res.status}` }
      : { ok: false, detail: `${origin} answered HTTP ${res.status}` };
  } catch (err) {
    if ((err as Error).name === 'TimeoutError')
      return { ok: false, detail: `no answer from ${origin} within ${formatSeconds(timeoutMs)}` };
    const code = (err as { cause?: { code?: string } }).cause?.code;
    return { ok: false, detail: `cannot reach ${origin}${code ? ` (${code})` : ''}` };
  }
}

export function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'the webhook';
  }
}

export interface AfterRenewalOptions {
  /** Run for every renewed certificate, after its own stored hook (`renew --deploy-hook`). */
  deployHook?: string | undefined;
  webhookUrl?: string | undefined;
  timeoutMs: number;
  logger: Logger;
  signal?: AbortSignal | undefined;
}

/**
 * The actions after one certificate's renewal: its stored deploy hook, the global deploy hook, then
 * the webhook (also on failure). Returns a one-line summary for the report ("ok" or "failed: ..."),
 * or undefined when nothing ran. Never throws: a broken hook must not stop other certificates.
 */
export function afterRenewal(store: StateStore, opts: AfterRenewalOptions) {
  return async (
    entry: RenewEntry,
    cert: { domains: string[]; path: string },
  ): Promise<string | undefined> => {
    if (entry.outcome !== 'renewed' && entry.outcome !== 'failed') return undefined;
    const results: { what: string; result: ActionResult }[] = [];
    if (entry.outcome === 'renewed') {
      const env = hookEnvironment(entry.name, cert.domains, cert.path, entry.notAfter);
      const commands: { what: string; command: string }[] = [];
      try {
        const own = (await store.getParams(entry.name))?.value.deployHook;
        if (own) commands.push({ what: 'deploy hook', command: own });
      } catch (err) {
        results.push({
          what: 'deploy hook',
          result: { ok: false, detail: `cannot read its parameters: ${errorText(err)}` },
        });
      }
      if (opts.deployHook) commands.push({ what: 'global deploy hook', command: opts.deployHook });
      for (const { what, command } of commands) {
        opts.logger.info({ name: entry.name }, `running the ${what}`);
        results.push({
          what,
          result: await runShell(command, { env, timeoutMs: opts.timeoutMs, signal: opts.signal }),
        });
      }
    }
    if (opts.webhookUrl) {
      const event: WebhookEvent = {
        event: entry.outcome,
        name: entry.name,
        domains: cert.domains,
        notAfter: entry.notAfter ?? null,
        reason: entry.reason ?? null,
      };
      results.push({ what: 'webhook', result: await postWebhook(opts.webhookUrl, event, opts.timeoutMs) });
    }
    if (results.length === 0) return undefined;
    const failed = results.filter((r) => !r.result.ok);
    for (const f of failed) opts.logger.warn({ name: entry.name }, `${f.what} failed: ${f.result.detail}`);
    return failed.length === 0
      ? 'ok'
      : `failed: ${failed.map((f) => `${f.what} ${f.result.detail}`).join('; ')}`;
  };
}

/** The environment a deploy hook (or an export reload) sees besides the caller's own. */
export function hookEnvironment(
  name: string,
  domains: string[],
  path: string,
  notAfter?: string,
): Record<string, string> {
  return {
    CERTVAULT_NAME: name,
    CERTVAULT_DOMAINS: domains.join(' '),
    CERTVAULT_VAULT_PATH: path,
    ...(notAfter ? { CERTVAULT_NOT_AFTER: notAfter } : {}),
  };
}
