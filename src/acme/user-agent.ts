import { readFileSync } from 'node:fs';

let cached: string | undefined;

/**
 * `certvault/<version>` (RFC 8555 §6.1 asks clients to identify themselves). The version comes from
 * package.json, two levels up from both src/acme and dist/acme.
 */
export function userAgent(): string {
  if (cached === undefined) cached = `certvault/${readVersion()} node/${process.versions.node}`;
  return cached;
}

function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}
