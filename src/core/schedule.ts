import type { RenewalInfo } from '../acme/index.js';
import type { RenewalState } from '../store/types.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/**
 * Fallback when the CA offers no ARI (or it failed): renew once 1/3 of the lifetime is left, or 1/2
 * for certificates shorter than 10 days (short-lived ones need more room for a failed attempt).
 */
export function lifetimeRenewalTime(notBefore: Date, notAfter: Date): Date {
  const lifetime = notAfter.getTime() - notBefore.getTime();
  const share = lifetime < 10 * DAY ? 1 / 2 : 1 / 3;
  return new Date(notAfter.getTime() - lifetime * share);
}

/**
 * RFC 9773 §4.2: pick a uniformly random moment inside the suggested window, keep a previous pick
 * while it still lies inside the (possibly updated) window, so repeated runs do not re-roll it.
 */
export function ariSelectedTime(
  info: RenewalInfo,
  previous: RenewalState['ari'] | undefined,
  random = Math.random,
): Date {
  const start = info.suggestedWindow.start.getTime();
  const end = info.suggestedWindow.end.getTime();
  if (previous) {
    const prev = Date.parse(previous.selectedTime);
    if (prev >= start && prev <= end) return new Date(prev);
  }
  return new Date(start + random() * (end - start));
}

/**
 * Wait before the next attempt after `failures` consecutive failures: exponential from a base, capped,
 * both scaled to the certificate's lifetime so a 6-day certificate is retried sooner than a 90-day one.
 * A CA's Retry-After (rate limits) wins when it is later.
 */
export function backoffUntil(failures: number, lifetimeMs: number, now: number, retryAfter?: Date): Date {
  const base = clamp(lifetimeMs / 2000, MINUTE, 10 * MINUTE);
  const cap = clamp(lifetimeMs / 20, 10 * MINUTE, DAY);
  const wait = Math.min(base * 2 ** Math.max(0, failures - 1), cap);
  const ours = now + wait * (0.9 + Math.random() * 0.2);
  return new Date(Math.max(ours, retryAfter?.getTime() ?? 0));
}
