import { configError } from '../errors.js';
import { validateStoreName } from '../store/names.js';
import type { StateStore } from '../store/store.js';
import type { Account, CertificateMaterial, IssueParams } from '../store/types.js';
import {
  ImportPlan,
  accountKeyFromJwk,
  checkCertificate,
  contactsOf,
  isoDate,
  planAccount,
  planCertificate,
  planDefaultServer,
  planDns,
  planMetadata,
  planParams,
  serverForAccountUrl,
  type ImportReport,
} from './import-common.js';

/**
 * `certvault import seed`: takes over a Vault filled by the "Certbot + Vault" scripts (the seed) without
 * registering or issuing anything. Their layout, in the same KV mount:
 *   <seed-prefix>/account/{meta,private_key,regr}   Certbot's JSON files, one secret each
 *   <seed-prefix>/account/extra_details             {account_id}
 *   <seed-prefix>/certificates/<domain>             cert, chain, privkey (what consumers read)
 *   <dnsimple-path>                                 {token}, outside the prefix
 * When the seed prefix is certvault's own prefix (the default), the certificate secrets are the very
 * ones certvault manages: they stay byte-identical and only get custom metadata.
 */
export interface SeedImportOptions {
  /** Default: the store's prefix (`--vault-prefix`, itself `lets-encrypt` by default). */
  seedPrefix?: string | undefined;
  /** Path of the DNSimple token secret in the same mount (default `dnsimple`). */
  dnsimplePath: string;
  /** DNS credentials for the params: a stored name, or the name to store the DNSimple token under. */
  dns?: string | undefined;
  /** Directory URL (or known name) when the account's host is not a well-known CA. */
  server?: string | undefined;
  force: boolean;
  dryRun: boolean;
}

const DEFAULT_DNS_NAME = 'dnsimple';

const clean = (p: string): string => p.replace(/^\/+|\/+$/g, '');
const join = (...parts: string[]): string => parts.filter((p) => p !== '').join('/');

export async function importSeed(store: StateStore, opts: SeedImportOptions): Promise<ImportReport> {
  const seedPrefix = clean(opts.seedPrefix ?? store.prefix);
  const where = (p: string) => `${store.kv.mount}/${p}`;
  const plan = new ImportPlan(store, opts.force);

  const account = await readSeedAccount(store, seedPrefix, opts.server);
  const certificates = await readSeedCertificates(store, seedPrefix);
  const dnsName = await chooseDns(store, opts, certificates.length > 0);

  await planAccount(plan, account.value, `certbot account ${account.certbotId}, ${account.value.url}`);
  await planDefaultServer(plan, account.value.server);
  if (dnsName?.token !== undefined) {
    await planDns(
      plan,
      dnsName.name,
      'dnsimple',
      { token: dnsName.token },
      `token from ${where(clean(opts.dnsimplePath))}`,
    );
  }

  const copying = seedPrefix !== store.prefix;
  for (const cert of certificates) {
    const step = {
      kind: 'certificate' as const,
      name: cert.name,
      path: store.path('certificates', cert.name),
    };
    if (!cert.material) {
      plan.add({ ...step, action: 'skip', detail: cert.reason ?? 'unreadable' });
      continue;
    }
    // A secret with a fullchain was written by certvault's issue or renew, not by the scripts: its
    // parameters are certvault's own and not the seed's to change, not even with --force.
    if (!copying && cert.byCertvault && (await store.getParams(cert.name))) {
      plan.add({ ...step, action: 'unchanged', detail: 'issued or renewed by certvault; left alone' });
      continue;
    }
    const check = checkCertificate(cert.material);
    if (!check.ok) {
      plan.add({ ...step, action: 'skip', detail: `${where(cert.path)}: ${check.reason}` });
      continue;
    }
    // Same prefix: the seed's secret *is* certvault's certificate; otherwise it is copied beside ours.
    if (copying) await planCertificate(plan, cert.name, cert.material, `copied from ${where(cert.path)}`);
    else await planMetadata(plan, cert.name);
    const params: IssueParams = {
      domains: check.domains,
      dns: dnsName!.name, // certificates exist, so chooseDns returned a name
      server: account.value.server,
      keyType: check.keyType,
      reuseKey: false,
      createdAt: new Date().toISOString(),
    };
    await planParams(plan, cert.name, params);
  }
  return plan.apply(`seed layout at ${where(seedPrefix)}`, opts.dryRun);
}

async function readSeedAccount(
  store: StateStore,
  seedPrefix: string,
  server: string | undefined,
): Promise<{ value: Account; certbotId: string }> {
  const base = join(seedPrefix, 'account');
  const read = async (name: string, required: boolean) => {
    const entry = await store.kv.read(join(base, name));
    if (!entry && required) {
      throw configError(
        `no seed account at ${store.kv.mount}/${join(base, name)}`,
        'check --seed-prefix (and --vault-mount); the seed stores account/{meta,private_key,regr}',
      );
    }
    return entry?.data;
  };
  const regr = await read('regr', true);
  const jwk = await read('private_key', true);
  const meta = await read('meta', false);
  const extra = await read('extra_details', false);
  const url = (regr as { uri?: unknown }).uri;
  if (typeof url !== 'string' || url === '') {
    throw configError(
      `${store.kv.mount}/${join(base, 'regr')} has no "uri"`,
      "it must hold Certbot's regr.json",
    );
  }
  const resolved = serverForAccountUrl(url, server);
  const key = accountKeyFromJwk(jwk, `${store.kv.mount}/${join(base, 'private_key')}`);
  const now = new Date().toISOString();
  return {
    value: {
      server: resolved.id,
      directoryUrl: resolved.url,
      url,
      key,
      contact: contactsOf(regr),
      createdAt: isoDate(meta?.creation_dt, now),
    },
    certbotId: typeof extra?.account_id === 'string' && extra.account_id !== '' ? extra.account_id : '?',
  };
}

interface SeedCertificate {
  name: string;
  path: string;
  material?: CertificateMaterial;
  /** The secret has a `fullchain`, which the scripts never write. */
  byCertvault?: boolean;
  reason?: string;
}

async function readSeedCertificates(store: StateStore, seedPrefix: string): Promise<SeedCertificate[]> {
  const folder = join(seedPrefix, 'certificates');
  const names = (await store.kv.list(folder)).filter((k) => !k.endsWith('/'));
  const out: SeedCertificate[] = [];
  for (const name of names) {
    const path = join(folder, name);
    try {
      validateStoreName('certificate', name);
    } catch {
      out.push({
        name,
        path,
        reason: `${store.kv.mount}/${path}: "${name}" is not a usable certificate name`,
      });
      continue;
    }
    const entry = await store.kv.read(path);
    if (!entry) continue; // deleted meanwhile
    const text = (k: string) => (typeof entry.data[k] === 'string' ? (entry.data[k] as string) : '');
    const cert = text('cert');
    if (!cert) {
      out.push({ name, path, reason: `${store.kv.mount}/${path} has no "cert"` });
      continue;
    }
    const chain = text('chain');
    // The seed stores no fullchain; readers rebuild it as cert + chain, and so does a copy.
    const fullchain = text('fullchain') || `${cert.trimEnd()}\n${chain}`;
    out.push({
      name,
      path,
      material: { cert, chain, fullchain, privkey: text('privkey') },
      byCertvault: text('fullchain') !== '',
    });
  }
  return out;
}

/**
 * Which stored DNS credentials the params name: `--dns NAME` when already stored; otherwise the seed's
 * DNSimple token, stored under NAME (default "dnsimple"). Only needed when there are certificates.
 */
async function chooseDns(
  store: StateStore,
  opts: SeedImportOptions,
  needed: boolean,
): Promise<{ name: string; token?: string } | undefined> {
  const name = validateStoreName('DNS provider', opts.dns ?? DEFAULT_DNS_NAME);
  const stored = await store.getDns(name);
  if (opts.dns !== undefined && stored) return { name };
  const tokenPath = clean(opts.dnsimplePath);
  const token = (await store.kv.read(tokenPath))?.data.token;
  if (typeof token === 'string' && token !== '') return { name, token };
  if (stored) return { name }; // the token secret is gone, but an earlier import stored it
  if (!needed) return undefined;
  const hint =
    opts.dns === undefined
      ? 'pass --dns NAME to use credentials stored with `certvault dns set`, or --dnsimple-path'
      : 'store them first with `certvault dns set`';
  throw configError(
    `no DNSimple token at ${store.kv.mount}/${tokenPath}${opts.dns === undefined ? '' : ` and no DNS credentials named "${name}"`}`,
    hint,
  );
}
