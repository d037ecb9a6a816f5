import { readFileSync } from 'node:fs';
import { usageError } from '../errors.js';

/**
 * Resolves a value given on the command line so secrets need not be in argv:
 * `@env:VAR` (environment), `@file:PATH` (file contents, trailing newline dropped), `@-` (stdin).
 */
export function resolveValue(label: string, raw: string, stdin: () => string): string {
  if (raw.startsWith('@env:')) {
    const name = raw.slice(5);
    const v = process.env[name];
    if (v === undefined || v === '')
      throw usageError(`${label}: environment variable ${name} is not set`, `export ${name}=... first`);
    return v;
  }
  if (raw.startsWith('@file:')) {
    const path = raw.slice(6);
    try {
      return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw usageError(
        `${label}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
        'check the path after @file:',
      );
    }
  }
  if (raw === '@-') return stdin();
  return raw;
}

/** Reads all of stdin once; a second `@-` gets an error instead of an empty value. */
export function stdinOnce(): () => string {
  let used = false;
  return () => {
    if (used)
      throw usageError('only one value may be read from stdin (@-)', 'use @env: or @file: for the others');
    used = true;
    return readFileSync(0, 'utf8').replace(/\r?\n$/, '');
  };
}

/** `key=value` pairs into a record; duplicate or malformed pairs are usage errors. */
export function parsePairs(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw usageError(`invalid setting "${pair.split('=')[0]}"`, 'write settings as key=value');
    const key = pair.slice(0, eq);
    if (Object.hasOwn(out, key)) throw usageError(`setting "${key}" given twice`, 'give each key once');
    out[key] = pair.slice(eq + 1);
  }
  return out;
}
