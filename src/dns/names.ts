import { domainToASCII } from 'node:url';
import { configError } from '../errors.js';

/** Lower-case ASCII name without the trailing dot; throws a config error for names DNS cannot carry. */
export function normalizeName(input: string): string {
  let name = input.trim().replace(/\.$/, '');
  if (name === '') return '';
  // domainToASCII handles IDNs; plain ASCII (with `_` and `*`) passes through lower-cased.
  if (/[^\x20-\x7e]/.test(name)) name = domainToASCII(name);
  name = name.toLowerCase();
  const labels = name.split('.');
  if (name === '' || labels.some((l) => l.length === 0 || l.length > 63) || name.length > 253) {
    throw configError(`invalid DNS name "${input}"`, 'labels must be 1-63 characters, 253 in all');
  }
  if (!/^[a-z0-9_*-]+(\.[a-z0-9_*-]+)*$/.test(name)) {
    throw configError(`invalid DNS name "${input}"`, 'use letters, digits, "-", "_" and "." only');
  }
  return name;
}

/** Uncompressed wire form; labels are written as given (case preserved). */
export function encodeName(name: string): Buffer {
  const trimmed = name.replace(/\.$/, '');
  const parts: Buffer[] = [];
  if (trimmed !== '') {
    for (const label of trimmed.split('.')) {
      const bytes = Buffer.from(label, 'ascii');
      if (bytes.length === 0 || bytes.length > 63) throw configError(`invalid DNS name "${name}"`);
      parts.push(Buffer.from([bytes.length]), bytes);
    }
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

export function sameName(a: string, b: string): boolean {
  return a.replace(/\.$/, '').toLowerCase() === b.replace(/\.$/, '').toLowerCase();
}

/** True when `name` equals `zone` or lies below it. */
export function isInZone(name: string, zone: string): boolean {
  const n = name.replace(/\.$/, '').toLowerCase();
  const z = zone.replace(/\.$/, '').toLowerCase();
  return z === '' || n === z || n.endsWith(`.${z}`);
}

/** The name and each parent, longest first, without the root: a.b.c → [a.b.c, b.c, c]. */
export function nameAndParents(name: string): string[] {
  const labels = name.replace(/\.$/, '').split('.');
  return labels.map((_, i) => labels.slice(i).join('.')).filter((n) => n !== '');
}
