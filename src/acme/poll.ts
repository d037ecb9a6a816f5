import { operationError } from '../errors.js';
import type { Logger } from '../ops/log.js';
import { sleep } from './wait.js';

export interface PollOptions {
  /** Give up (operation error) once this time has passed. */
  deadline: Date;
  signal?: AbortSignal | undefined;
}

/** Bounds for the wait between polls; the CA's Retry-After is clamped into them. */
export const POLL_MIN_MS = 1_000;
export const POLL_MAX_MS = 10_000;
const POLL_BACKOFF = 1.5;

export type PollVerdict = 'done' | 'wait';

/**
 * Fetches until `check` says done (or throws). Waits 1 s, then backs off to 10 s; a Retry-After from
 * the CA replaces our own interval but is clamped to 1..10 s so one answer cannot stall the run.
 */
export async function pollUntil<T extends { status: string }>(
  what: string,
  fetchOnce: () => Promise<{ value: T; retryAfter: Date | undefined }>,
  check: (value: T) => PollVerdict,
  options: PollOptions,
  logger: Logger,
): Promise<T> {
  let interval = POLL_MIN_MS;
  for (let attempt = 1; ; attempt++) {
    if (options.signal?.aborted) throw operationError(`${what} cancelled`, undefined, options.signal.reason);
    const { value, retryAfter } = await fetchOnce();
    if (check(value) === 'done') return value;
    const left = options.deadline.getTime() - Date.now();
    if (left <= 0) {
      throw operationError(
        `timed out ${what} (last status: ${value.status})`,
        'the CA is slow or stuck; try again later',
      );
    }
    const wanted = retryAfter ? clamp(retryAfter.getTime() - Date.now(), POLL_MIN_MS, POLL_MAX_MS) : interval;
    const wait = Math.min(wanted, left);
    logger.debug({ what, attempt, waitMs: wait }, 'acme: polling');
    await sleep(wait, options.signal, what);
    interval = Math.min(interval * POLL_BACKOFF, POLL_MAX_MS);
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
