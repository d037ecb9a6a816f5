import { resolveServer, type ResolvedServer } from '../acme/servers.js';
import { formatHostPort } from '../dns/hostport.js';
import { validateProviderSettings } from '../dns/provider.js';
import { TSIG_ALGORITHMS } from '../dns/tsig.js';
import { configError } from '../errors.js';
import { isKeyType, type KeyType } from '../pki/keys.js';
import { validateStoreName } from '../store/names.js';
import type { StateStore } from '../store/store.js';
import type { Account, IssueParams } from '../store/types.js';
import {
  readCredentials,
  type CertbotAccount,
  type CertbotDir,
  type CertbotLineage,
} from './import-certbot-files.js';
import {
  DnsNamer,
  ImportPlan,
  accountKeyFromJwk,
  checkCertificate,
  contactsOf,
  isoDate,
  planAccount,
  planCertificate,
  planDefaultServer,
  planDns,
  planParams,
  type ImportReport,
} from './import-common.js';

export { readCertbotDir } from './import-certbot-files.js';

/**
 * `certvault import certbot DIR`: accounts, certificates (one check-and-set write each), issuance
 * parameters from the renewal confs and DNS credentials from the credentials INI they name. Nothing is
 * registered or issued; what is already stored identically is left alone.
 */
export interface CertbotImportOptions {
  /** Stored DNS credentials for every certificate, instead of the ones Certbot's confs name. */
  dns?: string | undefined;
  force: boolean;
  dryRun: boolean;
}

/** Certbot's default server when a renewal conf names none. */
const CERTBOT_DEFAULT_SERVER = 'https://acme-v02.api.letsencrypt.org/directory';

export async function importCertbot(
  store: StateStore,
  certbot: CertbotDir,
  opts: CertbotImportOptions,
): Promise<ImportReport> {
  if (certbot.accounts.length === 0) {
    throw configError(
      `no Certbot account under ${certbot.dir}/accounts`,
      'give the directory Certbot registered in (the one with accounts/, renewal/ and live/)',
    );
  }
  if (opts.dns !== undefined && !(await store.getDns(validateStoreName('DNS provider', opts.dns)))) {
    throw configError(
      `no DNS credentials named "${opts.dns}" in ${store.location}`,
      'store them first with `certvault dns set`',
    );
  }
  const plan = new ImportPlan(store, opts.force);
  const serverUrlOf = (l: CertbotLineage) => l.params.server || CERTBOT_DEFAULT_SERVER;

  // Accounts: certvault keeps one per server, so when Certbot has several, the one the renewal confs use wins.
  const accounts = certbot.accounts.map((a) => toAccount(a, certbot));
  const uses = (id: string) => certbot.lineages.filter((l) => l.params.account === id).length;
  const chosen = new Map<string, (typeof accounts)[number]>();
  for (const a of accounts) {
    const current = chosen.get(a.value.server);
    if (!current || uses(a.certbotId) > uses(current.certbotId)) chosen.set(a.value.server, a);
  }
  for (const a of accounts) {
    const detail = `certbot account ${a.certbotId}, ${a.value.url}`;
    if (chosen.get(a.value.server) === a) await planAccount(plan, a.value, detail);
    else
      plan.add({
        kind: 'account',
        name: a.value.server,
        path: store.path('accounts', a.value.server),
        action: 'skip',
        detail: `${detail}: certvault keeps one account per server and imports ${chosen.get(a.value.server)?.certbotId}`,
      });
  }
  await planDefaultServer(
    plan,
    defaultServer(
      certbot,
      accounts.map((a) => a.value.server),
      serverUrlOf,
    ),
  );

  const namer = opts.dns === undefined ? await DnsNamer.load(store) : undefined;
  const plannedDns = new Set<string>();
  for (const lineage of certbot.lineages) {
    const name = lineage.name;
    const certPath = store.path('certificates', name);
    const skip = (kind: 'certificate' | 'params', detail: string) =>
      plan.add({
        kind,
        name,
        path: kind === 'certificate' ? certPath : store.path('params', name),
        action: 'skip',
        detail,
      });
    try {
      validateStoreName('certificate', name);
    } catch {
      skip('certificate', `${lineage.conf}: "${name}" is not a usable certificate name`);
      continue;
    }
    if (!lineage.files) {
      skip('certificate', lineage.filesError ?? 'no certificate files');
      continue;
    }
    const check = checkCertificate(lineage.files);
    if (!check.ok) {
      skip('certificate', `live/${name}: ${check.reason}`);
      continue;
    }
    await planCertificate(plan, name, lineage.files, `from live/${name}/`);

    let server: ResolvedServer;
    try {
      server = resolveServer(serverUrlOf(lineage));
    } catch (err) {
      skip('params', `${lineage.conf}: ${(err as Error).message}`);
      continue;
    }
    let dns = opts.dns;
    if (dns === undefined) {
      const found = await dnsOf(lineage, certbot.dir);
      if ('error' in found) {
        skip('params', `${lineage.conf}: ${found.error}; pass --dns NAME to use stored credentials`);
        continue;
      }
      dns = namer!.nameFor(found.provider, found.settings);
      if (!plannedDns.has(dns)) {
        plannedDns.add(dns);
        await planDns(plan, dns, found.provider, found.settings, `from ${found.path}`);
      }
    }
    const params: IssueParams = {
      domains: check.domains,
      dns,
      server: server.id,
      keyType: keyTypeOf(lineage.params) ?? check.keyType,
      reuseKey: /^true$/i.test(lineage.params.reuse_key ?? ''),
      ...(lineage.params.preferred_chain ? { preferredChain: lineage.params.preferred_chain } : {}),
      createdAt: new Date().toISOString(),
    };
    await planParams(plan, name, params);
  }
  return plan.apply(`Certbot directory ${certbot.dir}`, opts.dryRun);
}

interface ImportedAccount {
  certbotId: string;
  value: Account;
}

function toAccount(a: CertbotAccount, certbot: CertbotDir): ImportedAccount {
  const where = `${certbot.dir}/accounts/${a.serverPath}/${a.id}`;
  const url = (a.regr as { uri?: unknown } | null)?.uri;
  if (typeof url !== 'string' || url === '')
    throw configError(`${where}/regr.json has no "uri"`, 'it should be a file Certbot wrote');
  // Certbot names the folder host[:port] + directory path; a renewal conf gives the exact URL (and scheme).
  const fromConf = certbot.lineages
    .map((l) => l.params.server)
    .find((s) => s && serverPathOf(s) === a.serverPath);
  const server = resolveServer(fromConf ?? `https://${a.serverPath}`);
  return {
    certbotId: a.id,
    value: {
      server: server.id,
      directoryUrl: server.url,
      url,
      key: accountKeyFromJwk(a.privateKey, `${where}/private_key.json`),
      contact: contactsOf(a.regr),
      createdAt: isoDate((a.meta as { creation_dt?: unknown } | null)?.creation_dt, new Date().toISOString()),
    },
  };
}

function serverPathOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.host}${u.pathname}`;
  } catch {
    return '';
  }
}

/** The server most renewal confs use (that has an account), else the first account's. */
function defaultServer(
  certbot: CertbotDir,
  accountServers: string[],
  serverUrlOf: (l: CertbotLineage) => string,
): string {
  const counts = new Map<string, number>();
  for (const l of certbot.lineages) {
    try {
      const id = resolveServer(serverUrlOf(l)).id;
      if (accountServers.includes(id)) counts.set(id, (counts.get(id) ?? 0) + 1);
    } catch {
      // a bad server URL is reported with that certificate's params
    }
  }
  let best = accountServers[0]!;
  for (const [id, n] of counts) if (n > (counts.get(best) ?? 0)) best = id;
  return best;
}

/** Certbot's key_type / rsa_key_size / elliptic_curve, when certvault has the same key type. */
function keyTypeOf(params: Record<string, string>): KeyType | undefined {
  const type = (params.key_type ?? '').toLowerCase();
  if (type === 'rsa') {
    const candidate = `rsa-${params.rsa_key_size || '2048'}`;
    return isKeyType(candidate) ? candidate : undefined;
  }
  if (type === 'ecdsa') {
    const curve = (params.elliptic_curve || 'secp256r1').toLowerCase();
    return curve === 'secp256r1' ? 'ecdsa-p256' : curve === 'secp384r1' ? 'ecdsa-p384' : undefined;
  }
  return undefined;
}

type FoundDns = { provider: string; settings: Record<string, string>; path: string } | { error: string };

/** The DNS credentials a renewal conf names, as certvault provider settings. Values are never echoed. */
async function dnsOf(lineage: CertbotLineage, dir: string): Promise<FoundDns> {
  const authenticator = (lineage.params.authenticator ?? '').replace(/^.*:/, '');
  const plugin =
    authenticator === 'dns-rfc2136' ? 'rfc2136' : authenticator === 'dns-dnsimple' ? 'dnsimple' : undefined;
  if (!plugin) return { error: `authenticator "${authenticator || 'none'}" has no certvault equivalent` };
  const ref = lineage.params[`dns_${plugin}_credentials`];
  if (!ref) return { error: `no dns_${plugin}_credentials` };
  const file = await readCredentials(ref, dir, lineage.params.config_dir);
  if ('error' in file) return file;
  // Older plugin versions prefix keys with "certbot_dns_<plugin>:".
  const v = Object.fromEntries(Object.entries(file.values).map(([k, val]) => [k.replace(/^.*:/, ''), val]));
  let settings: Record<string, string>;
  if (plugin === 'dnsimple') {
    if (!v.dns_dnsimple_token) return { error: `${file.path} has no dns_dnsimple_token` };
    settings = { token: v.dns_dnsimple_token };
  } else {
    const { dns_rfc2136_server: server, dns_rfc2136_name: key, dns_rfc2136_secret: secret } = v;
    if (!server || !key || !secret)
      return { error: `${file.path} lacks dns_rfc2136_server, dns_rfc2136_name or dns_rfc2136_secret` };
    // The plugin's default algorithm is HMAC-MD5, which certvault does not sign with.
    const algorithm = (v.dns_rfc2136_algorithm || 'HMAC-MD5').toLowerCase();
    if (!(TSIG_ALGORITHMS as readonly string[]).includes(algorithm)) {
      return {
        error: `TSIG algorithm ${algorithm.toUpperCase()} in ${file.path} is not supported (use ${TSIG_ALGORITHMS.join(', ')})`,
      };
    }
    const port = Number(v.dns_rfc2136_port || '53');
    settings = {
      server: formatHostPort({ host: server, port }),
      'tsig-key': key,
      'tsig-secret': secret,
      'tsig-algorithm': algorithm,
    };
  }
  try {
    validateProviderSettings(plugin, settings);
  } catch (err) {
    return { error: `${file.path}: ${(err as Error).message}` };
  }
  return { provider: plugin, settings, path: file.path };
}
