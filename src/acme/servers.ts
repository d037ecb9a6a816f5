import { configError } from '../errors.js';

/** Well-known ACME directories by short name. The name doubles as the storage ID. */
export const KNOWN_SERVERS = {
  letsencrypt: 'https://acme-v02.api.letsencrypt.org/directory',
  'letsencrypt-staging': 'https://acme-staging-v02.api.letsencrypt.org/directory',
  zerossl: 'https://acme.zerossl.com/v2/DV90',
  google: 'https://dv.acme-v02.api.pki.goog/directory',
  'google-staging': 'https://dv.acme-v02.test-api.pki.goog/directory',
  buypass: 'https://api.buypass.com/acme/directory',
  'buypass-staging': 'https://api.test4.buypass.no/acme/directory',
} as const;

export type KnownServer = keyof typeof KNOWN_SERVERS;
export const DEFAULT_SERVER: KnownServer = 'letsencrypt';

export interface ResolvedServer {
  /** Stable short ID for storage paths: the known name, or a slug of host, port and path. */
  id: string;
  url: string;
}

/** A short name or an http(s) directory URL; empty means Let's Encrypt production. */
export function resolveServer(nameOrUrl?: string): ResolvedServer {
  const input = (nameOrUrl ?? '').trim();
  if (input === '') return { id: DEFAULT_SERVER, url: KNOWN_SERVERS[DEFAULT_SERVER] };
  const lower = input.toLowerCase();
  if (Object.hasOwn(KNOWN_SERVERS, lower)) return { id: lower, url: KNOWN_SERVERS[lower as KnownServer] };
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(input)) {
    throw configError(
      `unknown ACME server "${input}"`,
      `use one of ${Object.keys(KNOWN_SERVERS).join(', ')} or an https:// directory URL`,
    );
  }
  const url = parseDirectoryUrl(input);
  const known = Object.entries(KNOWN_SERVERS).find(([, u]) => u === url.toString());
  if (known) return { id: known[0], url: known[1] };
  return { id: serverSlug(url), url: url.toString() };
}

function parseDirectoryUrl(input: string): URL {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw configError(`ACME server URL "${input}" is not a valid URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw configError(`ACME server URL must be https:// (or http:// for tests), got ${url.protocol}//`);
  }
  // Credentials in the URL would end up in storage paths and logs.
  if (url.username || url.password) throw configError('ACME server URL must not contain credentials');
  if (url.hash) throw configError('ACME server URL must not contain a #fragment');
  return url;
}

/** "acme.example.com:8443/acme/dir" → "acme.example.com-8443-acme-dir". */
function serverSlug(url: URL): string {
  const raw = [url.hostname, url.port, url.pathname, url.search].join('-');
  return raw
    .toLowerCase()
    .replace(/[^a-z0-9.]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');
}
