import { domainToASCII } from 'node:url';
import { usageError } from '../errors.js';

/** Let's Encrypt's limit, and a sane one for any CA. */
export const MAX_NAMES = 100;

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?$/;

/**
 * Checks and normalises the names the user asked for: lower case, no trailing dot, Unicode converted
 * to punycode (IDNA), a wildcard only as the whole leftmost label, no duplicates, at most 100.
 * Every problem is a usage error naming the bad value.
 */
export function parseDomains(input: string[]): string[] {
  if (input.length === 0) throw usageError('no domain given', 'pass at least one -d NAME');
  if (input.length > MAX_NAMES)
    throw usageError(
      `${input.length} names given; a certificate holds at most ${MAX_NAMES}`,
      'split them over several certificates',
    );
  const seen = new Set<string>();
  return input.map((raw) => {
    const name = normalizeDomain(raw);
    if (seen.has(name)) throw usageError(`"${raw}" is given twice`, 'list each name once');
    seen.add(name);
    return name;
  });
}

function normalizeDomain(raw: string): string {
  const trimmed = raw.trim().replace(/\.$/, '');
  const wildcard = trimmed.startsWith('*.');
  const host = wildcard ? trimmed.slice(2) : trimmed;
  if (host.includes('*')) {
    throw usageError(
      `invalid name "${raw}": a wildcard must be the whole leftmost label`,
      'write it as *.example.com',
    );
  }
  // domainToASCII lowercases and converts Unicode labels to punycode; it returns '' when invalid.
  const ascii = domainToASCII(host);
  const labels = ascii.split('.');
  if (!ascii || ascii.length > 253 || labels.length < 2 || !labels.every((l) => LABEL.test(l))) {
    throw usageError(`invalid name "${raw}"`, 'use a fully qualified DNS name such as www.example.com');
  }
  if (/^[0-9.]+$/.test(ascii))
    throw usageError(`"${raw}" is an IP address`, 'DNS-01 certificates are for DNS names');
  return wildcard ? `*.${ascii}` : ascii;
}
