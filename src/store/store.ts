import { z } from 'zod';
import { configError, errorText, operationError } from '../errors.js';
import type { Logger } from '../ops/log.js';
import type { CertificateFacts } from '../pki/cert.js';
import type { Kv } from '../vault/kv.js';
import { validateStoreName } from './names.js';
import {
  SummaryIndex,
  clearPending,
  confirmedRecently,
  markPending,
  withCert,
  withState,
  type IndexEntry,
  type IndexedCert,
  type Mutation,
} from './summary-index.js';
import {
  AccountSchema,
  DnsCredentialsSchema,
  IssueParamsSchema,
  LockSchema,
  OrderJournalSchema,
  RenewalStateSchema,
  SettingsSchema,
  type Account,
  type CertificateMaterial,
  type CertificateSummary,
  type DnsCredentials,
  type IssueParams,
  type LockRecord,
  type OrderJournal,
  type RenewalStatus,
  type RenewalState,
  type Settings,
  type StoredCertificate,
} from './types.js';

/** What the summary index knows of one certificate, in the shapes the store's readers return. */
export interface IndexedCertificate {
  summary: CertificateSummary;
  /** Absent when the index has not recorded the renewal state yet. */
  state?: Versioned<RenewalState>;
}

/** A record read together with the version to pass back as check-and-set. */
export interface Versioned<T> {
  value: T;
  version: number;
}

/** Vault limits one custom-metadata value to 512 bytes; long domain lists are spread over keys. */
const META_VALUE_MAX = 500;

/**
 * Every domain operation of certvault, on any KV (Vault KV v2/v1 or the local directory). Layout under
 * `<prefix>/` (docs/vault-layout.md): `certificates/<name>` (seed-compatible PEMs), `params/<name>`,
 * `state/<name>`, `accounts/<server>`, `dns/<name>`, `settings`, and the summary index `index/<shard>`
 * (summary-index.ts), kept in step with every certificate and state write made here.
 */
export class StateStore {
  /** Null on KV v1: without check-and-set, concurrent writers would lose each other's updates. */
  readonly index: SummaryIndex | null;
  private readonly logger: Logger | undefined;

  constructor(
    readonly kv: Kv,
    readonly prefix: string,
    /** Where state goes, for messages: `vault https://…/v1/secret/lets-encrypt` or `file:/path`. */
    readonly location: string,
    opts: { logger?: Logger | undefined } = {},
  ) {
    this.logger = opts.logger;
    this.index = kv.version === 2 ? new SummaryIndex(kv, this.path('index'), opts.logger) : null;
  }

  path(...parts: string[]): string {
    return [this.prefix, ...parts].filter((p) => p !== '').join('/');
  }

  // ---- certificates -------------------------------------------------------------------------------

  async listCertificateNames(): Promise<string[]> {
    return (await this.kv.list(this.path('certificates'))).filter((k) => !k.endsWith('/'));
  }

  async getCertificateSummary(name: string): Promise<CertificateSummary | null> {
    const path = this.path('certificates', validateStoreName('certificate', name));
    const meta = await this.kv.readMetadata(path);
    if (meta && !meta.deleted) {
      const facts = factsFromMetadata(meta.customMetadata, meta.currentVersion);
      if (facts)
        return {
          name,
          ...facts,
          version: meta.currentVersion,
          source: 'metadata',
          renewal: renewalFromMetadata(meta.customMetadata),
        };
    }
    if (meta?.deleted) return null;
    // No (or stale) metadata: a secret written by the seed's scripts or by hand. Read the PEM.
    const cert = await this.getCertificate(name);
    if (!cert) return null;
    const { material: _material, ...summary } = cert;
    return summary;
  }

  async getCertificate(name: string): Promise<StoredCertificate | null> {
    const path = this.path('certificates', validateStoreName('certificate', name));
    const entry = await this.kv.read(path);
    if (!entry) return null;
    const material = materialFrom(entry.data, path);
    let facts: CertificateFacts;
    try {
      facts = await certificateFacts(material.cert);
    } catch {
      throw operationError(
        `the certificate stored at ${path} is not a valid PEM certificate`,
        'issue it again or fix the secret',
      );
    }
    return { name, ...facts, version: entry.version, source: 'pem', material };
  }

  /**
   * Writes certificate and key in one check-and-set write (`cas` = version read, 0 = new), then the
   * non-secret facts as custom metadata tagged with the data version they describe.
   */
  async putCertificate(name: string, material: CertificateMaterial, cas: number): Promise<number> {
    const path = this.path('certificates', validateStoreName('certificate', name));
    const facts = await certificateFacts(material.cert);
    // Announced first: if this process dies after the write, readers see the entry as unsettled.
    await this.index?.update(name, markPending(cas));
    let version: number;
    try {
      version = await this.kv.write(path, { ...material }, { cas });
    } catch (err) {
      await this.index?.update(name, clearPending(cas)).catch(() => undefined);
      throw err;
    }
    await this.kv.writeCustomMetadata(path, factsToMetadata(facts, version));
    await this.indexAfterWrite(name, withCert(indexedCert(facts, version, 'metadata')));
    return version;
  }

  /**
   * Mirrors a failing renewal into the certificate's custom metadata (cleared by the next successful
   * write), so `list` shows it with the one read it makes per certificate. No new secret version.
   */
  async setRenewalStatus(name: string, status: RenewalStatus): Promise<void> {
    const path = this.path('certificates', validateStoreName('certificate', name));
    const meta = await this.kv.readMetadata(path);
    if (!meta || !factsFromMetadata(meta.customMetadata, meta.currentVersion)) return;
    await this.kv.writeCustomMetadata(path, {
      ...meta.customMetadata,
      renewal_failures: String(status.failures),
      renewal_problem: status.problem.slice(0, 200) || 'error',
      renewal_retry_after: status.retryAfter,
    });
  }

  /** Rewrites the custom metadata of a certificate from its PEM (after a seed import). */
  async refreshCertificateMetadata(name: string): Promise<void> {
    const cert = await this.getCertificate(name);
    if (!cert) return;
    await this.kv.writeCustomMetadata(this.path('certificates', name), factsToMetadata(cert, cert.version));
    await this.indexAfterWrite(name, withCert(indexedCert(cert, cert.version, 'metadata')));
  }

  // ---- summary index -------------------------------------------------------------------------------

  /**
   * What the index says of these names, for those whose entry is settled (no certificate write in
   * flight) and recently confirmed. Empty when there is no index or it cannot be read: callers then
   * read each certificate.
   */
  async readIndex(names: string[]): Promise<Map<string, IndexedCertificate>> {
    const out = new Map<string, IndexedCertificate>();
    const entries = this.index && names.length ? await this.index.read(names) : null;
    for (const [name, entry] of entries ?? []) {
      const found = fromIndexEntry(name, entry);
      if (found) out.set(name, found);
    }
    return out;
  }

  /** Records what was read from the certificate's own records (for names the index lacked). */
  async repairIndex(name: string, summary: CertificateSummary, state: Versioned<RenewalState> | null) {
    const cert = indexedCert(summary, summary.version, summary.source);
    const st = state ?? { version: 0, value: { failures: 0 } };
    await this.index?.update(name, (e) => withState(st.version, st.value)(withCert(cert)(e)));
  }

  /** After the record's own write: an index that lags is settled or repaired later, so only warn. */
  private async indexAfterWrite(name: string, mutation: Mutation): Promise<void> {
    await this.index
      ?.update(name, mutation)
      .catch((err: unknown) =>
        this.logger?.warn({ name }, `could not update the summary index: ${errorText(err)}`),
      );
  }

  // ---- per-certificate parameters and state ------------------------------------------------------

  getParams(name: string): Promise<Versioned<IssueParams> | null> {
    return this.readRecord(this.path('params', validateStoreName('certificate', name)), IssueParamsSchema);
  }

  putParams(name: string, params: IssueParams, cas?: number): Promise<number> {
    return this.kv.write(
      this.path('params', validateStoreName('certificate', name)),
      params,
      cas === undefined ? {} : { cas },
    );
  }

  getState(name: string): Promise<Versioned<RenewalState> | null> {
    return this.readRecord(this.path('state', validateStoreName('certificate', name)), RenewalStateSchema);
  }

  async putState(name: string, state: RenewalState, cas?: number): Promise<number> {
    const version = await this.kv.write(
      this.path('state', validateStoreName('certificate', name)),
      state,
      cas === undefined ? {} : { cas },
    );
    await this.indexAfterWrite(name, withState(version, state));
    return version;
  }

  // ---- pending-order journal ---------------------------------------------------------------------

  getJournal(name: string): Promise<Versioned<OrderJournal> | null> {
    return this.readRecord(this.path('orders', validateStoreName('certificate', name)), OrderJournalSchema);
  }

  putJournal(name: string, journal: OrderJournal): Promise<number> {
    return this.kv.write(this.path('orders', validateStoreName('certificate', name)), journal);
  }

  removeJournal(name: string): Promise<void> {
    return this.kv.destroy(this.path('orders', validateStoreName('certificate', name)));
  }

  /** Names with a pending-order journal: one LIST for all certificates. */
  async listJournals(): Promise<Set<string>> {
    return new Set((await this.kv.list(this.path('orders'))).filter((k) => !k.endsWith('/')));
  }

  // ---- locks ---------------------------------------------------------------------------------------

  /** The lock record and its KV version (0 when there never was one: take it with cas 0). */
  async getLock(name: string): Promise<{ value: LockRecord | null; version: number }> {
    const path = this.path('locks', validateStoreName('certificate', name));
    for (;;) {
      const rec = await this.readRecord(path, LockSchema);
      if (rec) return rec;
      // Value and version come from two reads: only trust "no lock" if no live version appeared in
      // between (else a lock written meanwhile would be overwritten with its own version number).
      const meta = await this.kv.readMetadata(path);
      if (!meta || meta.deleted || meta.currentVersion === 0)
        return { value: null, version: meta?.currentVersion ?? 0 };
    }
  }

  /** Check-and-set write of the lock; throws CasConflictError when someone else wrote it first. */
  putLock(name: string, lock: LockRecord, cas: number): Promise<number> {
    return this.kv.write(this.path('locks', validateStoreName('certificate', name)), lock, { cas });
  }

  // ---- accounts -----------------------------------------------------------------------------------

  getAccount(serverId: string): Promise<Versioned<Account> | null> {
    return this.readRecord(this.path('accounts', validateStoreName('server', serverId)), AccountSchema);
  }

  putAccount(serverId: string, account: Account, cas?: number): Promise<number> {
    return this.kv.write(
      this.path('accounts', validateStoreName('server', serverId)),
      account,
      cas === undefined ? {} : { cas },
    );
  }

  // ---- DNS provider credentials -------------------------------------------------------------------

  getDns(name: string): Promise<Versioned<DnsCredentials> | null> {
    return this.readRecord(this.path('dns', validateStoreName('DNS provider', name)), DnsCredentialsSchema);
  }

  putDns(name: string, creds: DnsCredentials): Promise<number> {
    return this.kv.write(this.path('dns', validateStoreName('DNS provider', name)), creds);
  }

  async listDns(): Promise<string[]> {
    return (await this.kv.list(this.path('dns'))).filter((k) => !k.endsWith('/'));
  }

  removeDns(name: string): Promise<void> {
    return this.kv.destroy(this.path('dns', validateStoreName('DNS provider', name)));
  }

  // ---- settings -----------------------------------------------------------------------------------

  async getSettings(): Promise<Settings> {
    return (await this.readRecord(this.path('settings'), SettingsSchema))?.value ?? {};
  }

  async putSettings(settings: Settings): Promise<void> {
    await this.kv.write(this.path('settings'), settings);
  }

  private async readRecord<T>(path: string, schema: z.ZodType<T>): Promise<Versioned<T> | null> {
    const entry = await this.kv.read(path);
    if (!entry) return null;
    const parsed = schema.safeParse(entry.data);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw configError(
        `the record at ${path} is not in certvault's format (${issue ? `${issue.path.join('.') || 'value'}: ${issue.message}` : 'invalid'})`,
        'fix or delete it',
      );
    }
    return { value: parsed.data, version: entry.version };
  }
}

/** X.509 parsing loads a large library: only the paths that parse a PEM pay for it. */
async function certificateFacts(pem: string): Promise<CertificateFacts> {
  return (await import('../pki/cert.js')).certificateFacts(pem);
}

function indexedCert(f: CertificateFacts, version: number, source: IndexedCert['source']): IndexedCert {
  return {
    version,
    source,
    checkedAt: new Date().toISOString(),
    domains: f.domains,
    notBefore: f.notBefore.toISOString(),
    notAfter: f.notAfter.toISOString(),
    serial: f.serial,
    issuer: f.issuer,
    keyType: f.keyType,
    ...(f.ariId ? { ariId: f.ariId } : {}),
  };
}

function fromIndexEntry(name: string, e: IndexEntry): IndexedCertificate | null {
  if (!e.cert || e.pending || !confirmedRecently(name, e.cert.checkedAt)) return null;
  const c = e.cert;
  const s = e.state?.value;
  // The same failing-renewal status the certificate's metadata carries (setRenewalStatus).
  const renewal =
    s && s.failures > 0 && s.lastProblem && s.nextAttemptAfter
      ? { failures: s.failures, problem: s.lastProblem.type, retryAfter: s.nextAttemptAfter }
      : undefined;
  const summary: CertificateSummary = {
    name,
    domains: c.domains,
    notBefore: new Date(c.notBefore),
    notAfter: new Date(c.notAfter),
    serial: c.serial,
    issuer: c.issuer,
    keyType: c.keyType,
    ariId: c.ariId,
    version: c.version,
    source: c.source,
    renewal,
  };
  return e.state ? { summary, state: e.state } : { summary };
}

function materialFrom(data: Record<string, unknown>, path: string): CertificateMaterial {
  const str = (k: string) => (typeof data[k] === 'string' ? (data[k] as string) : '');
  const cert = str('cert');
  if (!cert)
    throw operationError(
      `the secret at ${path} has no "cert" key`,
      'it must hold cert, chain and privkey PEMs',
    );
  const chain = str('chain');
  const fullchain = str('fullchain') || `${cert.trimEnd()}\n${chain}`;
  return { cert, chain, fullchain, privkey: str('privkey') };
}

function factsToMetadata(f: CertificateFacts, dataVersion: number): Record<string, string> {
  const meta: Record<string, string> = {
    managed_by: 'certvault',
    data_version: String(dataVersion),
    not_before: f.notBefore.toISOString(),
    not_after: f.notAfter.toISOString(),
    serial: f.serial || '-',
    issuer: f.issuer || '-',
    key_type: f.keyType,
  };
  if (f.ariId) meta.ari_id = f.ariId;
  chunk(f.domains, META_VALUE_MAX).forEach((part, i) => {
    meta[i === 0 ? 'domains' : `domains_${i}`] = part;
  });
  return meta;
}

function factsFromMetadata(m: Record<string, string>, currentVersion: number): CertificateFacts | null {
  // Metadata describing an older version (a crash between the two writes, or a hand edit) is not trusted.
  if (m.managed_by !== 'certvault' || m.data_version !== String(currentVersion) || !m.not_after || !m.domains)
    return null;
  const domains: string[] = [];
  for (let i = 0; m[i === 0 ? 'domains' : `domains_${i}`] !== undefined; i++) {
    domains.push(...(m[i === 0 ? 'domains' : `domains_${i}`] ?? '').split(','));
  }
  return {
    domains,
    notBefore: new Date(m.not_before ?? 0),
    notAfter: new Date(m.not_after),
    serial: m.serial ?? '',
    issuer: m.issuer ?? '',
    keyType: m.key_type ?? '',
    ariId: m.ari_id,
  };
}

function renewalFromMetadata(m: Record<string, string>): RenewalStatus | undefined {
  const failures = Number(m.renewal_failures);
  if (!failures || !m.renewal_problem || !m.renewal_retry_after) return undefined;
  return { failures, problem: m.renewal_problem, retryAfter: m.renewal_retry_after };
}

function chunk(items: string[], max: number): string[] {
  const parts: string[] = [];
  let cur = '';
  for (const item of items) {
    if (cur && cur.length + 1 + item.length > max) {
      parts.push(cur);
      cur = item;
    } else cur = cur ? `${cur},${item}` : item;
  }
  if (cur) parts.push(cur);
  return parts;
}
