// Token store: service tokens with TTL, max TTL, use counts and renewal, as in Vault's token store.
import { randomUUID } from 'node:crypto';
import type { AuthBlock } from './types.js';
import { formatTime, goDuration, NS_PER_S, randomId, struct, unixSeconds, type JsonObject } from './util.js';

/** System default and max lease TTL (768h). */
export const SYSTEM_MAX_TTL = 2_764_800;

export interface TokenEntry {
  id: string;
  accessor: string;
  policies: string[];
  path: string;
  meta: Record<string, string> | null;
  displayName: string;
  created: bigint;
  creationTtl: number;
  /** Absolute expiry (ns) or null for non-expiring tokens. */
  expiresAt: bigint | null;
  /** Hard limit for renewals (ns) or null. */
  maxExpiresAt: bigint | null;
  explicitMaxTtl: number;
  renewable: boolean;
  /** Remaining uses; 0 = unlimited. */
  numUses: number;
  orphan: boolean;
  entityId: string;
  lastRenewal: bigint | null;
}

export interface CreateTokenOptions {
  policies?: string[];
  /** Seconds or a Go duration string; default 768h (none for root-policy tokens). */
  ttl?: number | string;
  explicitMaxTtl?: number | string;
  renewable?: boolean;
  numUses?: number;
  meta?: Record<string, string> | null;
  displayName?: string;
  noDefaultPolicy?: boolean;
  orphan?: boolean;
  /** Creation path reported by lookup-self, e.g. `auth/approle/login`. */
  path?: string;
  /** Use this exact token id (e.g. a fixed root token). */
  id?: string;
  entityId?: string;
}

export function sanitizePolicies(policies: string[], addDefault: boolean): string[] {
  const set = new Set(policies.map((p) => p.trim().toLowerCase()).filter((p) => p !== ''));
  if (set.has('root')) return ['root'];
  if (addDefault) set.add('default');
  return [...set].sort();
}

const seconds = (v: number | string | undefined, parse: (x: unknown) => bigint): number =>
  v === undefined ? 0 : Number(parse(v) / NS_PER_S);

export class TokenStore {
  private readonly byId = new Map<string, TokenEntry>();

  constructor(private readonly parseDuration: (x: unknown) => bigint) {}

  create(opts: CreateTokenOptions, now: bigint): TokenEntry {
    const policies = sanitizePolicies(opts.policies ?? [], !opts.noDefaultPolicy);
    const isRoot = policies.includes('root');
    const explicitMax = seconds(opts.explicitMaxTtl, this.parseDuration);
    const maxTtl = explicitMax > 0 ? Math.min(explicitMax, SYSTEM_MAX_TTL) : SYSTEM_MAX_TTL;
    let ttl = seconds(opts.ttl, this.parseDuration);
    if (ttl <= 0) ttl = isRoot ? 0 : SYSTEM_MAX_TTL;
    if (!isRoot || ttl > 0) ttl = Math.min(ttl, maxTtl);
    const entry: TokenEntry = {
      id: opts.id ?? `hvs.${randomId(24)}`,
      accessor: randomId(24),
      policies,
      path: opts.path ?? 'auth/token/create',
      meta: opts.meta ?? null,
      displayName: opts.displayName ?? 'token',
      created: now,
      creationTtl: ttl,
      expiresAt: ttl > 0 ? now + BigInt(ttl) * NS_PER_S : null,
      maxExpiresAt: ttl > 0 ? now + BigInt(maxTtl) * NS_PER_S : null,
      explicitMaxTtl: explicitMax,
      renewable: ttl > 0 && (opts.renewable ?? true),
      numUses: opts.numUses ?? 0,
      orphan: opts.orphan ?? false,
      entityId: opts.entityId ?? '',
      lastRenewal: null,
    };
    this.byId.set(entry.id, entry);
    return entry;
  }

  /** Valid (unexpired) entry or undefined; expired entries are removed on sight. */
  lookup(id: string | undefined, now: bigint): TokenEntry | undefined {
    if (!id) return undefined;
    const e = this.byId.get(id);
    if (e && e.expiresAt !== null && e.expiresAt <= now) {
      this.byId.delete(id);
      return undefined;
    }
    return e;
  }

  /** Counts one use; the token is revoked after its last use (the current request still runs). */
  use(e: TokenEntry): void {
    if (e.numUses === 0) return;
    e.numUses -= 1;
    if (e.numUses === 0) this.byId.delete(e.id);
  }

  revoke(id: string): void {
    this.byId.delete(id);
  }

  /** Renews for `increment` seconds (default: the creation TTL), capped at the max TTL. */
  renew(
    e: TokenEntry,
    incrementSec: number | undefined,
    now: bigint,
  ): { ttl: number; warnings: string[] } | string {
    if (!e.renewable || e.expiresAt === null || e.maxExpiresAt === null) return 'lease is not renewable';
    const wanted = incrementSec && incrementSec > 0 ? incrementSec : e.creationTtl;
    const left = Number((e.maxExpiresAt - now) / NS_PER_S);
    const warnings: string[] = [];
    let ttl = wanted;
    if (wanted > left) {
      ttl = Math.max(left, 0);
      const maxTtl = Number((e.maxExpiresAt - e.created) / NS_PER_S);
      warnings.push(
        `TTL of "${goDuration(BigInt(wanted) * NS_PER_S)}" exceeded the effective max_ttl of ` +
          `"${goDuration(BigInt(maxTtl) * NS_PER_S)}"; TTL value is capped accordingly`,
      );
    }
    e.expiresAt = now + BigInt(ttl) * NS_PER_S;
    e.lastRenewal = now;
    return { ttl, warnings };
  }

  ttlLeft(e: TokenEntry, now: bigint): number {
    return e.expiresAt === null ? 0 : Math.max(0, Number((e.expiresAt - now) / NS_PER_S));
  }

  authBlock(e: TokenEntry, now: bigint): AuthBlock {
    return struct({
      client_token: e.id,
      accessor: e.accessor,
      policies: e.policies,
      token_policies: e.policies,
      metadata: e.meta,
      lease_duration: this.ttlLeft(e, now),
      renewable: e.renewable,
      entity_id: e.entityId,
      token_type: 'service' as const,
      orphan: e.orphan,
      mfa_requirement: null,
      num_uses: e.numUses,
    });
  }

  lookupData(e: TokenEntry, now: bigint): JsonObject {
    const data: JsonObject = {
      accessor: e.accessor,
      creation_time: unixSeconds(e.created),
      creation_ttl: e.creationTtl,
      display_name: e.displayName,
      entity_id: e.entityId,
      expire_time: e.expiresAt === null ? null : formatTime(e.expiresAt),
      explicit_max_ttl: e.explicitMaxTtl,
      id: e.id,
      meta: e.meta,
      num_uses: e.numUses,
      orphan: e.orphan,
      path: e.path,
      policies: e.policies,
      ttl: this.ttlLeft(e, now),
      type: 'service',
    };
    if (e.expiresAt !== null) {
      data.issue_time = formatTime(e.created);
      data.renewable = e.renewable;
    }
    if (e.lastRenewal !== null) {
      data.last_renewal = formatTime(e.lastRenewal);
      data.last_renewal_time = unixSeconds(e.lastRenewal);
    }
    return data;
  }
}

export const newEntityId = (): string => randomUUID();
