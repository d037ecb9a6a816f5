import { CertvaultError } from '../errors.js';

/**
 * A 404 from Vault means one of several things (reference §1.4, §2.12); callers branch on the kind:
 * - absent: `{"errors":[]}`: nothing stored there;
 * - deleted: KV v2 envelope with metadata: the current version is soft-deleted or destroyed;
 * - empty: no body at all (PATCH on an absent key);
 * - no-route: nothing is mounted at that path;
 * - wrong-kv-version: a KV v1-style path on a KV v2 mount.
 */
export type NotFoundKind = 'absent' | 'deleted' | 'empty' | 'no-route' | 'wrong-kv-version';

export function classifyNotFound(body: unknown): NotFoundKind {
  if (body === null || body === undefined) return 'empty';
  const b = body as { errors?: unknown; data?: { metadata?: unknown } | null; warnings?: unknown };
  if (Array.isArray(b.errors)) {
    return b.errors.some((e) => typeof e === 'string' && e.includes('no handler for route'))
      ? 'no-route'
      : 'absent';
  }
  if (Array.isArray(b.warnings) && b.warnings.some((w) => String(w).includes('versioned K/V'))) {
    return 'wrong-kv-version';
  }
  if (b.data && typeof b.data === 'object') return 'deleted';
  return 'absent';
}

/** A failed Vault request. The message names the operation, path and address, never the token. */
export class VaultError extends CertvaultError {
  readonly status: number;
  readonly path: string;
  readonly errors: string[];

  constructor(
    message: string,
    opts: { status: number; path: string; errors?: string[]; hint?: string; usage?: boolean },
  ) {
    super(opts.usage ? 'config' : 'operation', message, opts.hint === undefined ? {} : { hint: opts.hint });
    this.name = 'VaultError';
    this.status = opts.status;
    this.path = opts.path;
    this.errors = opts.errors ?? [];
  }
}

/** A check-and-set write lost: someone else wrote the key since we read it. */
export class CasConflictError extends VaultError {
  constructor(path: string) {
    super(`check-and-set conflict writing ${path}: it was changed by another writer`, {
      status: 400,
      path,
      hint: 're-read and retry, or run the command again',
    });
    this.name = 'CasConflictError';
  }
}
