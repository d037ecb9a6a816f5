import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { errorText } from '../errors.js';
import type { Logger } from '../ops/log.js';
import type { StateStore } from '../store/store.js';
import type { LockRecord } from '../store/types.js';
import { CasConflictError } from '../vault/errors.js';

/** Identifies this process in lock records (shown when another runner holds a lock). */
export const RUN_ID = `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;

export interface Lease {
  name: string;
  /** Aborted when the lease is lost (heartbeat failed or taken over): stop working on it. */
  signal: AbortSignal;
  release(): Promise<void>;
}

export type AcquireResult = { lease: Lease } | { heldBy: LockRecord };

/**
 * Takes the per-certificate lease with a check-and-set write: only one of any number of concurrent
 * runners wins a given version. An unexpired lease of someone else is respected; an expired one
 * (its holder died) is taken over. While held, a heartbeat extends it every ttl/3.
 */
export async function acquireLease(
  store: StateStore,
  name: string,
  ttlMs: number,
  logger: Logger,
): Promise<AcquireResult> {
  const current = await store.getLock(name);
  const now = Date.now();
  if (current.value && current.value.owner !== RUN_ID && Date.parse(current.value.expiresAt) > now) {
    logger.debug(
      { name, holder: current.value.owner, version: current.version },
      'renewal lock held by another runner',
    );
    return { heldBy: current.value };
  }
  const record = (at: number): LockRecord => ({
    owner: RUN_ID,
    host: hostname(),
    pid: process.pid,
    acquiredAt: new Date(now).toISOString(),
    expiresAt: new Date(at + ttlMs).toISOString(),
  });
  let version: number;
  try {
    version = await store.putLock(name, record(now), current.version);
  } catch (err) {
    if (!(err instanceof CasConflictError)) throw err;
    const winner = await store.getLock(name);
    return { heldBy: winner.value ?? record(now) };
  }
  logger.debug(
    {
      name,
      version,
      owner: RUN_ID,
      previous: current.value?.owner ?? null,
      previousExpiry: current.value?.expiresAt ?? null,
      readVersion: current.version,
    },
    'renewal lock taken',
  );
  const controller = new AbortController();
  let stopped = false;
  let beat = Promise.resolve();
  const timer = setInterval(
    () => {
      beat = beat.then(async () => {
        if (stopped) return;
        try {
          version = await store.putLock(name, record(Date.now()), version);
        } catch (err) {
          // Lost it (expired and taken over, or Vault unreachable for too long): stop working.
          logger.warn({ name }, `lost the renewal lock: ${errorText(err)}`);
          controller.abort(new Error(`lost the renewal lock for ${name}`));
          stopped = true;
        }
      });
    },
    Math.max(100, Math.floor(ttlMs / 3)),
  );
  timer.unref();
  return {
    lease: {
      name,
      signal: controller.signal,
      async release() {
        clearInterval(timer);
        await beat;
        if (stopped) return;
        stopped = true;
        // Written as an expired record rather than deleted, so the version history keeps CAS exact.
        const released = { ...record(0), expiresAt: new Date(0).toISOString() };
        await store.putLock(name, released, version).catch((err: unknown) => {
          logger.warn(
            { name },
            `could not release the renewal lock (it expires by itself): ${errorText(err)}`,
          );
        });
      },
    },
  };
}
