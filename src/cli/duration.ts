import { usageError } from '../errors.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `90s`, `15m`, `1h`, `1h30m`, or a plain number of seconds, into milliseconds. */
export function parseDuration(flag: string, value: string): number {
  const v = value.trim();
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(v)) ms = Number(v) * 1000;
  else if (/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(v)) {
    ms = [...v.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)].reduce(
      (sum, [, n, unit]) => sum + Number(n) * (UNITS[unit as string] ?? 0),
      0,
    );
  } else ms = NaN;
  if (!Number.isFinite(ms) || ms <= 0)
    throw usageError(`invalid ${flag} "${value}"`, 'give a duration such as 30s, 15m or 1h');
  return Math.round(ms);
}

/** `10%` or `0.1` into a fraction from 0 to 1. */
export function parseFraction(flag: string, value: string): number {
  const v = value.trim();
  const n = v.endsWith('%') ? Number(v.slice(0, -1)) / 100 : Number(v);
  if (v === '' || v === '%' || !Number.isFinite(n) || n < 0 || n > 1)
    throw usageError(`invalid ${flag} "${value}"`, 'give a share such as 10% (0% to 100%)');
  return n;
}
