import { setTimeout as delay } from 'node:timers/promises';
import { operationError } from '../errors.js';

/** Longest server-requested wait we sit out inside one request; longer waits surface to the caller. */
export const SHORT_RETRY_CAP_MS = 10_000;
export const MAX_SHORT_RETRIES = 3;
/** Cheap to retry; enough that a CA rejecting 30% of nonces (Pebble's test mode) fails 1 in 10^5. */
export const MAX_BAD_NONCE_RETRIES = 10;

/**
 * How long to wait before repeating a request the CA answered with 429/503, or undefined to give up:
 * only when it sent Retry-After, the wait is short, and we have retries left.
 */
export function shortRetryWait(
  status: number,
  retryAfter: Date | undefined,
  retriesDone: number,
  now: number = Date.now(),
): number | undefined {
  if (status !== 429 && status !== 503) return undefined;
  if (retryAfter === undefined || retriesDone >= MAX_SHORT_RETRIES) return undefined;
  const wait = Math.max(0, retryAfter.getTime() - now);
  return wait <= SHORT_RETRY_CAP_MS ? wait : undefined;
}

/** Sleep that ends early with an operation error when `signal` aborts. */
export async function sleep(ms: number, signal?: AbortSignal, what = 'wait'): Promise<void> {
  try {
    await delay(ms, undefined, signal ? { signal } : {});
  } catch (err) {
    throw operationError(`${what} cancelled`, undefined, err);
  }
}
