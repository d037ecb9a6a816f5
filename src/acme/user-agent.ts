import { VERSION } from '../version.js';

/** `certvault/<version>` (RFC 8555 §6.1 asks clients to identify themselves). */
export function userAgent(): string {
  return `certvault/${VERSION} node/${process.versions.node}`;
}
