import { X509Certificate, createPrivateKey, createPublicKey, type JsonWebKey } from 'node:crypto';
import { KNOWN_SERVERS, resolveServer, type ResolvedServer } from '../acme/servers.js';
import { configError } from '../errors.js';
import { certificateFacts, certificateMatchesKey } from '../pki/cert.js';
import { keyTypeOf, type KeyType } from '../pki/keys.js';
import type { StateStore } from '../store/store.js';
import type { Account, CertificateMaterial, DnsCredentials, IssueParams } from '../store/types.js';

/**
 * Shared machinery of `import seed` and `import certbot`: everything is read and checked first into a
 * plan of steps, and only then written, so bad input fails before the first write and `--dry-run` is
 * the same plan without the writes. A step is `unchanged` when the store already holds the same thing,
 * which is what makes a second run change nothing.
 */

export type ImportKind = 'account' | 'settings' | 'dns' | 'certificate' | 'metadata' | 'params';
export type ImportAction = 'import' | 'unchanged' | 'conflict' | 'skip';

/** One line of the report. `detail` carries names, paths and URLs only, never a secret. */
export interface ImportStep {
  kind: ImportKind;
  name: string;
  action: ImportAction;
  detail: string;
  /** Store path the step writes (or would write, or left alone). */
  path: string;
}

export interface ImportReport {
  source: string;
  store: string;
  dryRun: boolean;
  steps: ImportStep[];
  counts: Record<ImportAction, number>;
}

export class ImportPlan {
  private readonly planned: { step: ImportStep; write?: () => Promise<unknown> }[] = [];

  constructor(
    readonly store: StateStore,
    /** Overwrite what differs instead of reporting a conflict. */
    readonly force: boolean,
  ) {}

  add(step: ImportStep, write?: () => Promise<unknown>): void {
    this.planned.push(write && step.action === 'import' ? { step, write } : { step });
  }

  /** Runs the writes in plan order (accounts before the certificates that name them). */
  async apply(source: string, dryRun: boolean): Promise<ImportReport> {
    if (!dryRun) for (const p of this.planned) if (p.write) await p.write();
    const steps = this.planned.map((p) => p.step);
    const counts: Record<ImportAction, number> = { import: 0, unchanged: 0, conflict: 0, skip: 0 };
    for (const s of steps) counts[s.action]++;
    return { source, store: this.store.location, dryRun, steps, counts };
  }

  /** Conflict, or (with --force) a replacement written with check-and-set on the version read. */
  differs(step: Omit<ImportStep, 'action'>, replace: () => Promise<unknown>): void {
    if (this.force)
      this.add({ ...step, action: 'import', detail: `${step.detail} (replaced, --force)` }, replace);
    else this.add({ ...step, action: 'conflict', detail: `${step.detail}; pass --force to replace it` });
  }
}

// ---- accounts ---------------------------------------------------------------------------------------

/** Certbot keeps the account key as a JWK; certvault keeps PKCS#8 PEM. */
export function accountKeyFromJwk(jwk: unknown, where: string): string {
  if (typeof jwk !== 'object' || jwk === null || typeof (jwk as { kty?: unknown }).kty !== 'string') {
    throw configError(`${where} is not a JSON Web Key`, "it must hold Certbot's private_key.json");
  }
  let key;
  try {
    key = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
  } catch {
    throw configError(`${where} is not a usable private JWK`, "it must hold Certbot's private_key.json");
  }
  keyTypeOf(key); // the ACME client signs only with the key types it knows
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/**
 * The ACME directory an account belongs to, from the host of its URL (Certbot's `regr.uri`): known CAs
 * by host, anything else only with `--server`, which must then be on the same host.
 */
export function serverForAccountUrl(accountUrl: string, given: string | undefined): ResolvedServer {
  let host: string;
  try {
    host = new URL(accountUrl).host;
  } catch {
    throw configError(`the account URL "${accountUrl}" is not a URL`, 'check regr.uri');
  }
  if (given !== undefined) {
    const server = resolveServer(given);
    if (new URL(server.url).host !== host) {
      throw configError(
        `the account is registered at ${host}, but --server is on ${new URL(server.url).host}`,
        'pass the directory URL of the CA the account belongs to',
      );
    }
    return server;
  }
  const known = Object.entries(KNOWN_SERVERS).find(([, url]) => new URL(url).host === host);
  if (!known) {
    throw configError(
      `cannot tell which ACME directory the account at ${host} belongs to`,
      `pass --server with the CA's directory URL, e.g. --server https://${host}/directory`,
    );
  }
  return resolveServer(known[0]);
}

/** Contacts as Certbot kept them in `regr.body` (older versions only; newer ones keep `{}`). */
export function contactsOf(regr: unknown): string[] {
  const contact = (regr as { body?: { contact?: unknown } } | null)?.body?.contact;
  return Array.isArray(contact) ? contact.filter((c): c is string => typeof c === 'string') : [];
}

export function isoDate(value: unknown, fallback: string): string {
  if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) return fallback;
  return new Date(value).toISOString();
}

const samePublicKey = (a: string, b: string): boolean => {
  const spki = (pem: string) =>
    createPublicKey(createPrivateKey(pem)).export({ type: 'spki', format: 'der' });
  try {
    return spki(a).equals(spki(b));
  } catch {
    return false;
  }
};

export async function planAccount(plan: ImportPlan, account: Account, detail: string): Promise<void> {
  const path = plan.store.path('accounts', account.server);
  const existing = await plan.store.getAccount(account.server);
  const step = { kind: 'account' as const, name: account.server, path, detail };
  if (!existing) {
    plan.add({ ...step, action: 'import' }, () => plan.store.putAccount(account.server, account, 0));
  } else if (existing.value.url === account.url && samePublicKey(existing.value.key, account.key)) {
    plan.add({ ...step, action: 'unchanged', detail: `${detail}; already stored` });
  } else {
    plan.differs(
      {
        ...step,
        detail: `${detail}; another account (${existing.value.url}) is stored for ${account.server}`,
      },
      () => plan.store.putAccount(account.server, account, existing.version),
    );
  }
}

/** The imported server becomes the default, so `issue` and `renew` use the imported account. */
export async function planDefaultServer(plan: ImportPlan, serverId: string): Promise<void> {
  const settings = await plan.store.getSettings();
  const step = { kind: 'settings' as const, name: 'defaultServer', path: plan.store.path('settings') };
  if (settings.defaultServer === serverId)
    plan.add({ ...step, action: 'unchanged', detail: `default server is ${serverId}` });
  else {
    const was = settings.defaultServer ? ` (was ${settings.defaultServer})` : '';
    plan.add({ ...step, action: 'import', detail: `default server ${serverId}${was}` }, () =>
      plan.store.putSettings({ ...settings, defaultServer: serverId }),
    );
  }
}

// ---- DNS credentials --------------------------------------------------------------------------------

const sameSettings = (a: Record<string, string>, b: Record<string, string>): boolean => {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
};

export async function planDns(
  plan: ImportPlan,
  name: string,
  provider: string,
  settings: Record<string, string>,
  detail: string,
): Promise<void> {
  const path = plan.store.path('dns', name);
  const existing = await plan.store.getDns(name);
  const creds: DnsCredentials = { provider, settings, updatedAt: new Date().toISOString() };
  const step = { kind: 'dns' as const, name, path, detail: `${provider}: ${detail}` };
  if (!existing) plan.add({ ...step, action: 'import' }, () => plan.store.putDns(name, creds));
  else if (existing.value.provider === provider && sameSettings(existing.value.settings, settings)) {
    plan.add({ ...step, action: 'unchanged', detail: `${step.detail}; already stored` });
  } else
    plan.differs(
      {
        ...step,
        detail: `${step.detail}; other ${existing.value.provider} credentials are stored as "${name}"`,
      },
      () => plan.store.putDns(name, creds),
    );
}

/**
 * A name for DNS credentials found in a Certbot directory: the stored record that already holds exactly
 * these settings (a re-run), else the first free one of `<provider>`, `<provider>-2`, ...
 */
export class DnsNamer {
  private readonly known = new Map<string, DnsCredentials | null>();

  private constructor(private readonly store: StateStore) {}

  static async load(store: StateStore): Promise<DnsNamer> {
    const namer = new DnsNamer(store);
    for (const name of await store.listDns())
      namer.known.set(name, (await store.getDns(name))?.value ?? null);
    return namer;
  }

  nameFor(provider: string, settings: Record<string, string>): string {
    for (const [name, rec] of this.known) {
      if (rec && rec.provider === provider && sameSettings(rec.settings, settings)) return name;
    }
    let name = provider;
    for (let i = 2; this.known.has(name); i++) name = `${provider}-${i}`;
    this.known.set(name, { provider, settings, updatedAt: '' });
    return name;
  }
}

// ---- certificates -----------------------------------------------------------------------------------

/** Facts needed for the params of an imported certificate, or why it cannot be imported. */
export type CertificateCheck =
  { ok: true; domains: string[]; keyType: KeyType } | { ok: false; reason: string };

export function checkCertificate(material: Pick<CertificateMaterial, 'cert' | 'privkey'>): CertificateCheck {
  if (!material.privkey) return { ok: false, reason: 'no privkey' };
  let domains: string[];
  try {
    domains = orderedDomains(material.cert);
  } catch {
    return { ok: false, reason: 'cert is not a PEM certificate' };
  }
  if (domains.length === 0) return { ok: false, reason: 'the certificate names no domain' };
  if (!certificateMatchesKey(material.cert, material.privkey))
    return { ok: false, reason: 'privkey does not match cert' };
  try {
    return { ok: true, domains, keyType: keyTypeOf(createPrivateKey(material.privkey)) };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}

/**
 * The SANs in certificate order with the subject CN moved first: Certbot puts the first `-d` name in the
 * CN, and that first name is what the seed (and certvault) name the secret after. A CN that is not
 * also a SAN is ignored (CAs only validate SANs).
 */
export function orderedDomains(certPem: string): string[] {
  const sans = certificateFacts(certPem).domains;
  const cn = new X509Certificate(certPem).subject
    .split('\n')
    .find((l) => l.startsWith('CN='))
    ?.slice(3);
  return cn && sans.includes(cn) ? [cn, ...sans.filter((d) => d !== cn)] : sans;
}

const paramsKey = (p: IssueParams): string =>
  JSON.stringify([
    p.domains,
    p.dns,
    p.server,
    p.keyType,
    p.reuseKey,
    p.profile ?? null,
    p.preferredChain ?? null,
  ]);

export async function planParams(plan: ImportPlan, name: string, params: IssueParams): Promise<void> {
  const path = plan.store.path('params', name);
  const existing = await plan.store.getParams(name);
  const detail = `${params.domains.join(', ')} via dns "${params.dns}", server ${params.server}, ${params.keyType}${params.reuseKey ? ', reuse key' : ''}`;
  const step = { kind: 'params' as const, name, path, detail };
  if (!existing) plan.add({ ...step, action: 'import' }, () => plan.store.putParams(name, params, 0));
  else if (paramsKey(existing.value) === paramsKey(params))
    plan.add({ ...step, action: 'unchanged', detail: `${detail}; already stored` });
  else
    plan.differs({ ...step, detail: `${detail}; other parameters are stored` }, () =>
      plan.store.putParams(name, params, existing.version),
    );
}

/** Custom metadata for a secret certvault did not write, so `list` stops reading its PEM. */
export async function planMetadata(plan: ImportPlan, name: string): Promise<void> {
  if (plan.store.kv.version === 1) return; // KV v1 has no custom metadata: nothing to write, nothing to report
  const path = plan.store.path('certificates', name);
  const summary = await plan.store.getCertificateSummary(name);
  const step = { kind: 'metadata' as const, name, path };
  if (summary?.source === 'metadata')
    plan.add({ ...step, action: 'unchanged', detail: 'custom metadata up to date' });
  else
    plan.add(
      {
        ...step,
        action: 'import',
        detail: 'custom metadata from the PEM; the secret itself is not rewritten',
      },
      () => plan.store.refreshCertificateMetadata(name),
    );
}

/** A certificate from outside the store: one check-and-set write (0 = create), or the comparison. */
export async function planCertificate(
  plan: ImportPlan,
  name: string,
  material: CertificateMaterial,
  detail: string,
): Promise<void> {
  const path = plan.store.path('certificates', name);
  const existing = await plan.store.getCertificate(name);
  const step = { kind: 'certificate' as const, name, path, detail };
  if (!existing) {
    plan.add({ ...step, action: 'import' }, () => plan.store.putCertificate(name, material, 0));
    return;
  }
  const have = existing.material;
  if (have.cert === material.cert && have.chain === material.chain && have.privkey === material.privkey) {
    plan.add({
      ...step,
      action: 'unchanged',
      detail: `${detail}; already stored (version ${existing.version})`,
    });
    await planMetadata(plan, name);
  } else {
    plan.differs(
      { ...step, detail: `${detail}; a different certificate (serial ${existing.serial}) is stored` },
      () => plan.store.putCertificate(name, material, existing.version),
    );
  }
}
