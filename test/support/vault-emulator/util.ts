// Small helpers that reproduce Go/Vault wire formats: time strings, durations, JSON encoding, ParseBool.
import { randomBytes } from 'node:crypto';

/** Nanosecond wall clock (bigint), monotonic inside the process, with a test-controlled offset. */
export class Clock {
  private readonly baseNs = BigInt(Date.now()) * 1_000_000n;
  private readonly baseHr = process.hrtime.bigint();
  private offsetNs = 0n;

  now(): bigint {
    return this.baseNs + (process.hrtime.bigint() - this.baseHr) + this.offsetNs;
  }

  advance(ms: number): void {
    this.offsetNs += BigInt(Math.round(ms * 1e6));
  }
}

export const NS_PER_S = 1_000_000_000n;

/** Go `time.RFC3339Nano` in UTC: trailing zeros of the fraction trimmed; `null` → "". */
export function formatTime(ns: bigint | null | undefined): string {
  if (ns === null || ns === undefined) return '';
  let secs = ns / NS_PER_S;
  let frac = ns % NS_PER_S;
  if (frac < 0n) {
    frac += NS_PER_S;
    secs -= 1n;
  }
  const base = new Date(Number(secs) * 1000).toISOString().slice(0, 19);
  const digits = frac.toString().padStart(9, '0').replace(/0+$/, '');
  return `${base}${digits ? `.${digits}` : ''}Z`;
}

export const unixSeconds = (ns: bigint): number => Number(ns / NS_PER_S);

function fracDigits(v: bigint, prec: number): [string, bigint] {
  // Prints the low `prec` decimal digits of v as a fraction (trailing zeros dropped).
  let s = '';
  let print = false;
  let rest = v;
  for (let i = 0; i < prec; i++) {
    const digit = rest % 10n;
    print = print || digit !== 0n;
    if (print) s = digit.toString() + s;
    rest /= 10n;
  }
  return [print ? `.${s}` : '', rest];
}

/** Go `time.Duration.String()` for a nanosecond count. */
export function goDuration(ns: bigint): string {
  if (ns === 0n) return '0s';
  const neg = ns < 0n;
  let u = neg ? -ns : ns;
  let out: string;
  if (u < NS_PER_S) {
    if (u < 1_000n) out = `${u}ns`;
    else if (u < 1_000_000n) {
      const [f, whole] = fracDigits(u, 3);
      out = `${whole}${f}µs`;
    } else {
      const [f, whole] = fracDigits(u, 6);
      out = `${whole}${f}ms`;
    }
  } else {
    const [f, whole] = fracDigits(u, 9);
    u = whole;
    out = `${u % 60n}${f}s`;
    u /= 60n;
    if (u > 0n) {
      out = `${u % 60n}m${out}`;
      u /= 60n;
      if (u > 0n) out = `${u}h${out}`;
    }
  }
  return neg ? `-${out}` : out;
}

const UNIT_NS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
  d: 86400e9,
};

/**
 * Vault `parseutil.ParseDurationSecond`: integer seconds (number or numeric string) or a Go duration
 * string (plus a `d` unit). Returns nanoseconds or throws with Go-like text.
 */
export function parseDuration(input: unknown): bigint {
  if (typeof input === 'number') {
    if (!Number.isFinite(input)) throw new Error(`time: invalid duration "${input}"`);
    return BigInt(Math.trunc(input)) * NS_PER_S;
  }
  if (typeof input !== 'string') throw new Error(`time: invalid duration "${String(input)}"`);
  const s = input.trim();
  if (s === '') return 0n;
  if (/^[+-]?\d+$/.test(s)) return BigInt(s) * NS_PER_S;
  const m = /^([+-]?)((?:\d*\.?\d+(?:ns|us|µs|μs|ms|s|m|h|d))+)$/.exec(s);
  if (!m) throw new Error(`time: invalid duration "${input}"`);
  let total = 0;
  for (const part of (m[2] ?? '').matchAll(/(\d*\.?\d+)(ns|us|µs|μs|ms|s|m|h|d)/g)) {
    total += Number(part[1]) * (UNIT_NS[part[2] ?? 's'] ?? 0);
  }
  const ns = BigInt(Math.round(total));
  return m[1] === '-' ? -ns : ns;
}

/** Go `strconv.ParseBool`. */
export function parseGoBool(s: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  return undefined;
}

const B62 = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
export function randomId(len = 24): string {
  const bytes = randomBytes(len);
  let s = '';
  for (const b of bytes) s += B62[b % 62];
  return s;
}

/** Go `sort.Strings` order: byte-wise on UTF-8, not UTF-16 code units. */
export function byteCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** A LIST answer: the immediate children of `prefix` among `keys`, folders ending in `/`, Go-sorted. */
export function childKeys(keys: Iterable<string>, prefix: string): string[] {
  const out = new Set<string>();
  for (const k of keys) {
    if (!k.startsWith(prefix)) continue;
    const rest = k.slice(prefix.length);
    const slash = rest.indexOf('/');
    if (slash >= 0) out.add(rest.slice(0, slash + 1));
    else if (rest !== '') out.add(rest);
  }
  return [...out].sort(byteCompare);
}

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: unknown };

export const isObject = (v: unknown): v is JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const ORDERED = Symbol('go-struct');

/** Marks an object as a Go struct: keys keep their declaration order, `undefined` fields are omitted. */
export function struct<T extends object>(o: T): T {
  Object.defineProperty(o, ORDERED, { value: true, enumerable: false });
  return o;
}

function encodeString(s: string): string {
  // Go's encoder escapes HTML-significant characters and the JS line separators.
  return JSON.stringify(s).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Encodes like Go's `encoding/json`: map keys sorted byte-wise, structs in declared order. */
export function goJson(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  switch (typeof v) {
    case 'boolean':
      return v ? 'true' : 'false';
    case 'number':
      return Number.isFinite(v) ? JSON.stringify(v) : 'null';
    case 'bigint':
      return v.toString();
    case 'string':
      return encodeString(v);
    case 'object': {
      if (Array.isArray(v)) return `[${v.map((x) => goJson(x)).join(',')}]`;
      const ordered = (v as Record<symbol, unknown>)[ORDERED] === true;
      const entries = Object.entries(v as object).filter(([, x]) => !(ordered && x === undefined));
      if (!ordered) entries.sort(([a], [b]) => byteCompare(a, b));
      return `{${entries.map(([k, x]) => `${encodeString(k)}:${goJson(x)}`).join(',')}}`;
    }
    default:
      return 'null';
  }
}

/** RFC 7396 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const out: JsonObject = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** go-multierror rendering, as Vault prints accumulated core errors. */
export function multiError(...msgs: string[]): string {
  const head = msgs.length === 1 ? '1 error occurred:' : `${msgs.length} errors occurred:`;
  return `${head}\n${msgs.map((m) => `\t* ${m}`).join('\n')}\n\n`;
}

/** Go `%q` for plain strings (close enough: JSON quoting). */
export const goQuote = (s: string): string => JSON.stringify(s);
