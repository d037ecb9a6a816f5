import { usageError } from '../errors.js';

const NAME = /^[a-z0-9_][a-z0-9._-]{0,252}$/i;

/** A stored name (certificate, DNS credentials) must be one safe path segment. */
export function validateStoreName(kind: string, name: string): string {
  if (!NAME.test(name) || name.includes('..')) {
    throw usageError(
      `invalid ${kind} name "${name}"`,
      'use letters, digits, ".", "-" and "_" (no "/" or "..")',
    );
  }
  return name;
}

/** The seed's rule: the first domain, with a leading `*.` dropped. */
export function certificateNameFor(domains: string[]): string {
  const first = domains[0];
  if (!first) throw usageError('no domain given', 'pass at least one -d NAME');
  return first.replace(/^\*\./, '');
}
