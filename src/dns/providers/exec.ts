import { spawn } from 'node:child_process';
import { z } from 'zod';
import { operationError } from '../../errors.js';
import { silentLogger, type Logger } from '../../ops/log.js';
import { KeyedMutex } from '../mutex.js';
import { normalizeName } from '../names.js';
import type { DnsProvider, ProviderDefinition, ProviderOptions } from '../provider.js';
import { execSpec } from '../specs.js';
import { integerSetting, requiredText } from './settings.js';

/** Runs the user's own commands (via /bin/sh -c) to add and remove TXT values. */

const schema = z
  .object({
    add: requiredText('a shell command'),
    remove: requiredText('a shell command'),
    timeout: integerSetting(1, 3600),
  })
  .strict();

type Settings = z.output<typeof schema>;

export const execDefinition: ProviderDefinition<Settings> = {
  spec: execSpec,
  schema,
  create(s, opts) {
    return new ExecProvider(s, opts);
  },
};

class ExecProvider implements DnsProvider {
  readonly type = 'exec';
  private readonly log: Logger;
  private readonly timeoutMs: number;
  private readonly lock = new KeyedMutex();

  constructor(
    private readonly s: Settings,
    opts: ProviderOptions,
  ) {
    this.log = opts.logger ?? silentLogger;
    this.timeoutMs = s.timeout !== undefined ? s.timeout * 1000 : (opts.timeoutMs ?? 120_000);
  }

  present(fqdn: string, values: string[], signal?: AbortSignal): Promise<void> {
    return this.run('add', this.s.add, fqdn, values, signal);
  }

  cleanup(fqdn: string, values: string[], signal?: AbortSignal): Promise<void> {
    return this.run('remove', this.s.remove, fqdn, values, signal);
  }

  private run(
    action: 'add' | 'remove',
    command: string,
    fqdn: string,
    values: string[],
    signal?: AbortSignal,
  ) {
    const name = normalizeName(fqdn);
    const unique = [...new Set(values)];
    if (unique.length === 0) return Promise.resolve();
    return this.lock.run(name, async () => {
      const env = {
        ...process.env,
        CERTVAULT_DNS_ACTION: action,
        CERTVAULT_DNS_NAME: name,
        CERTVAULT_DNS_VALUE: unique[0]!,
        CERTVAULT_DNS_VALUES: unique.join(' '),
      };
      await runCommand(command, env, this.timeoutMs, `exec DNS ${action} command`, signal);
      this.log.info({ name, values: unique.length }, `exec: ${action} command succeeded`);
    });
  }
}

function runCommand(
  command: string,
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
  what: string,
  signal?: AbortSignal,
): Promise<void> {
  signal?.throwIfAborted();
  return new Promise((resolve, reject) => {
    // Own process group, so a timeout also stops whatever the shell started.
    const child = spawn('/bin/sh', ['-c', command], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    let stderr = '';
    let timedOut = false;
    const kill = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, timeoutMs);
    const onAbort = () => kill();
    signal?.addEventListener('abort', onAbort, { once: true });
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString('utf8')).slice(-4096);
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(operationError(`${what} could not start: ${err.message}`));
    });
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted) return reject(signal.reason);
      if (timedOut)
        return reject(operationError(`${what} timed out after ${Math.round(timeoutMs / 1000)} s`));
      if (code === 0) return resolve();
      const last = stderr.trim().split('\n').pop()?.trim();
      const status = code === null ? `was killed by ${sig}` : `exited with code ${code}`;
      reject(operationError(`${what} ${status}${last ? `: ${last.slice(0, 300)}` : ''}`));
    });
  });
}
