import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import type { Logger } from '../ops/log.js';
import { mapLimit } from '../util/map-limit.js';
import { CasConflictError, VaultError } from '../vault/errors.js';
import type { Kv } from '../vault/kv.js';
import { RenewalStateSchema } from './types.js';

/**
 * The summary index: `index/<00..ff>`, each record holding the non-secret facts and renewal state of
 * the certificates whose name hashes there, so `list` and `renew` read at most 256 records instead of
 * one or two per certificate. It is a cache that certvault keeps in step with its own writes:
 * a certificate write is announced (`pending`) before it happens and confirmed after, so a crash in
 * between makes readers fall back to the certificate's own records. Names without a usable entry
 * (written by other tools, or never indexed) are read one by one; `renew` then adds them.
 */

const SHARD_FORMAT = 1;
const MAX_CAS_ATTEMPTS = 20;
/** A certificate write announced longer ago than this and never confirmed: its writer died. */
export const PENDING_STALE_MS = 10 * 60_000;
/**
 * Facts last confirmed against the certificate's own records longer ago than this (18 to 24 hours,
 * spread by name so the re-reads do not all fall in one run) are not used: a certificate rewritten
 * by another tool is seen within a day even if certvault never writes it.
 */
export const RECHECK_MS = 24 * 3_600_000;

/** The shard a name lives in: two hex digits of its SHA-256, so names spread evenly over 256 records. */
export function indexShard(name: string): string {
  return createHash('sha256').update(name).digest('hex').slice(0, 2);
}

/** Whether facts confirmed at `checkedAt` may still be used for `name`. */
export function confirmedRecently(name: string, checkedAt: string, now = Date.now()): boolean {
  const spread = (createHash('sha256').update(name).digest()[2]! / 256) * (RECHECK_MS / 4);
  return now - Date.parse(checkedAt) < RECHECK_MS - spread;
}

const CertPartSchema = z.object({
  /** KV version of the certificate secret these facts describe. */
  version: z.number().int().nonnegative(),
  source: z.enum(['metadata', 'pem']),
  /** When these facts were last read from, or written to, the certificate's own records. */
  checkedAt: z.string(),
  domains: z.array(z.string()).min(1),
  notBefore: z.string(),
  notAfter: z.string(),
  serial: z.string(),
  issuer: z.string(),
  keyType: z.string(),
  ariId: z.string().optional(),
});
export type IndexedCert = z.infer<typeof CertPartSchema>;

const EntrySchema = z.object({
  cert: CertPartSchema.optional(),
  /** The `state/<name>` record and its KV version (0: there is none). */
  state: z.object({ version: z.number().int().nonnegative(), value: RenewalStateSchema }).optional(),
  /** A certificate write over version `cas` began at `since` and is not confirmed yet. */
  pending: z.object({ cas: z.number().int().nonnegative(), since: z.string() }).optional(),
});
export type IndexEntry = z.infer<typeof EntrySchema>;
export type Mutation = (entry: IndexEntry | undefined) => IndexEntry | undefined;

// ---- mutations (pure: re-applied after a check-and-set conflict) -----------------------------------

export const markPending =
  (cas: number, now = new Date()): Mutation =>
  (e) => ({ ...e, pending: { cas, since: now.toISOString() } });

/** Drops our announcement after a certificate write that did not happen. */
export const clearPending =
  (cas: number): Mutation =>
  (e) => {
    if (e?.pending?.cas !== cas) return e;
    const { pending: _pending, ...rest } = e;
    return rest;
  };

/**
 * Records the facts of certificate version `cert.version`, never replacing newer ones. An announced
 * write is settled when these facts are newer than what it replaced, or when its writer is gone.
 */
export const withCert =
  (cert: IndexedCert, now = Date.now()): Mutation =>
  (e) => {
    if (e?.cert && e.cert.version > cert.version) return e;
    const { pending, ...rest } = e ?? {};
    const open = pending && cert.version <= pending.cas && now - Date.parse(pending.since) < PENDING_STALE_MS;
    return { ...rest, cert, ...(open ? { pending } : {}) };
  };

export const withState =
  (version: number, value: z.infer<typeof RenewalStateSchema>): Mutation =>
  (e) =>
    e?.state && e.state.version > version ? e : { ...e, state: { version, value } };

/** One entry parsed; a malformed one counts as absent (the certificate is read directly). */
function parseEntry(raw: unknown): IndexEntry | undefined {
  const parsed = EntrySchema.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}

interface Queued {
  name: string;
  mutate: Mutation;
  resolve: () => void;
  reject: (err: unknown) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class SummaryIndex {
  private readonly queues = new Map<string, Queued[]>();
  private readonly flushing = new Set<string>();
  /** The last version of each shard this process read or wrote: a write tries it before re-reading. */
  private readonly known = new Map<string, { entries: Record<string, unknown>; version: number }>();

  constructor(
    private readonly kv: Kv,
    /** The index folder, e.g. `lets-encrypt/index`. */
    readonly folder: string,
    private readonly logger?: Logger,
  ) {}

  shardPath(name: string): string {
    return `${this.folder}/${indexShard(name)}`;
  }

  /**
   * The entries of these names, each shard read once. Null when this token may not read the index
   * (callers then read every certificate, as before the index existed).
   */
  async read(names: string[], concurrency = 32): Promise<Map<string, IndexEntry> | null> {
    const byShard = new Map<string, string[]>();
    for (const name of names) {
      const path = this.shardPath(name);
      const list = byShard.get(path);
      if (list) list.push(name);
      else byShard.set(path, [name]);
    }
    const out = new Map<string, IndexEntry>();
    try {
      await mapLimit([...byShard], concurrency, async ([path, wanted]) => {
        const rec = await this.kv.read(path);
        const entries = shardEntries(rec?.data);
        if (rec) this.known.set(path, { entries, version: rec.version });
        for (const name of wanted) {
          const entry = parseEntry(entries[name]);
          if (entry) out.set(name, entry);
        }
      });
    } catch (err) {
      if (!(err instanceof VaultError) || err.status !== 403) throw err;
      this.logger?.info(
        `the summary index at ${this.folder}/ is not readable (${err.message}); reading each certificate instead`,
      );
      return null;
    }
    return out;
  }

  /**
   * Applies `mutate` to the entry of `name` in a check-and-set write of its shard. Updates of one
   * shard made while a write of it is in flight are coalesced into the next write.
   */
  update(name: string, mutate: Mutation): Promise<void> {
    const path = this.shardPath(name);
    return new Promise((resolve, reject) => {
      const queue = this.queues.get(path);
      const item = { name, mutate, resolve, reject };
      if (queue) queue.push(item);
      else this.queues.set(path, [item]);
      if (!this.flushing.has(path)) void this.flush(path);
    });
  }

  private async flush(path: string): Promise<void> {
    this.flushing.add(path);
    try {
      for (let batch = this.queues.get(path); batch; batch = this.queues.get(path)) {
        this.queues.delete(path);
        try {
          await this.apply(path, batch);
          batch.forEach((q) => q.resolve());
        } catch (err) {
          batch.forEach((q) => q.reject(err));
        }
      }
    } finally {
      this.flushing.delete(path);
    }
  }

  private async apply(path: string, batch: Queued[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const cached = attempt === 1 ? this.known.get(path) : undefined;
      const { entries, version } = cached
        ? { entries: { ...cached.entries }, version: cached.version }
        : await this.readForWrite(path);
      let changed = false;
      for (const { name, mutate } of batch) {
        const before = parseEntry(entries[name]);
        // Through JSON, as it is stored: an absent optional and an undefined one are the same.
        const after = JSON.parse(JSON.stringify(mutate(before) ?? null)) as IndexEntry | null;
        if (isDeepStrictEqual(after, before ?? null)) continue;
        changed = true;
        if (after) entries[name] = after;
        else delete entries[name];
      }
      if (!changed && !cached) return;
      if (!changed) continue; // our copy may be old: decide on the stored shard
      try {
        const written = await this.kv.write(path, { format: SHARD_FORMAT, entries }, { cas: version });
        this.known.set(path, { entries, version: written });
        return;
      } catch (err) {
        this.known.delete(path);
        if (!(err instanceof CasConflictError) || attempt >= MAX_CAS_ATTEMPTS) throw err;
        // Another writer changed the shard (or our copy was old): re-read and re-apply.
        if (!cached) await sleep(Math.random() * 20 * attempt);
      }
    }
  }

  private async readForWrite(path: string): Promise<{ entries: Record<string, unknown>; version: number }> {
    const rec = await this.kv.read(path);
    if (rec) return { entries: shardEntries(rec.data), version: rec.version };
    // Never written, or its current version deleted: check-and-set needs the current version number.
    const meta = await this.kv.readMetadata(path);
    return { entries: {}, version: meta?.currentVersion ?? 0 };
  }
}

function shardEntries(data: Record<string, unknown> | undefined): Record<string, unknown> {
  const entries = data?.format === SHARD_FORMAT ? data.entries : undefined;
  return entries && typeof entries === 'object' ? { ...(entries as Record<string, unknown>) } : {};
}
