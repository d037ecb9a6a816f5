import { createDnsProvider, type HostPort } from '../dns/index.js';
import { configError, usageError } from '../errors.js';
import type { Logger } from '../ops/log.js';
import type { KeyType } from '../pki/keys.js';
import { certificateNameFor, validateStoreName } from '../store/names.js';
import type { StateStore } from '../store/store.js';
import type { IssueParams } from '../store/types.js';
import { openAccount, type AcmeConnection } from './acme-context.js';
import { parseDomains } from './domains.js';
import { obtainCertificate, type Obtained } from './obtain.js';

export interface IssueRequest {
  domains: string[];
  name?: string | undefined;
  dns: string;
  keyType: KeyType;
  reuseKey: boolean;
  profile?: string | undefined;
  preferredChain?: string | undefined;
  /** Kept in the parameters and run after every renewal (see core/hooks.ts). */
  deployHook?: string | undefined;
  server?: string | undefined;
  /** Replace an existing certificate of that name. */
  force: boolean;
  dnsResolvers?: HostPort[] | undefined;
  propagationTimeoutMs: number;
  timeoutMs: number;
}

export interface IssueResult extends Obtained {
  name: string;
  domains: string[];
  path: string;
}

/** Everything the caller can check before any network call, so bad input fails fast (exit 2). */
export function prepareIssue(req: IssueRequest): { name: string; domains: string[] } {
  const domains = parseDomains(req.domains);
  const name = validateStoreName('certificate', req.name ?? certificateNameFor(domains));
  return { name, domains };
}

/**
 * `certvault issue`: a new certificate straight into the store, with its parameters kept beside it
 * so that `renew` needs nothing else. Nothing is written unless the CA issued.
 */
export async function issue(
  store: StateStore,
  req: IssueRequest,
  env: AcmeConnection & {
    progress: (m: string) => void;
    signal?: AbortSignal | undefined;
    logger: Logger;
    /** Throws when the store would refuse the result (checked before anything is ordered). */
    checkAccess?: ((name: string, exists: boolean) => Promise<void>) | undefined;
  },
): Promise<IssueResult> {
  const { name, domains } = prepareIssue(req);
  const dnsRec = await store.getDns(validateStoreName('DNS provider', req.dns));
  if (!dnsRec)
    throw configError(
      `no DNS credentials named "${req.dns}" in ${store.location}`,
      'add them with `certvault dns set NAME --provider TYPE ...` (see `certvault dns list`)',
    );
  const provider = createDnsProvider(dnsRec.value.provider, dnsRec.value.settings, { logger: env.logger });

  const existing = await store.getCertificateSummary(name);
  if (existing && !req.force) {
    throw usageError(
      `a certificate named "${name}" already exists (${existing.domains.join(', ')})`,
      'renew it with `certvault renew`, pick another --name, or pass --force to replace it',
    );
  }
  await env.checkAccess?.(name, existing !== null);
  const session = await openAccount(store, req.server, env);
  let reuseKeyPem: string | undefined;
  if (req.reuseKey && existing)
    reuseKeyPem = (await store.getCertificate(name))?.material.privkey || undefined;

  try {
    const obtained = await obtainCertificate(
      {
        name,
        serverId: session.server.id,
        domains,
        keyType: req.keyType,
        profile: req.profile,
        preferredChain: req.preferredChain,
        reuseKeyPem,
        certVersion: existing?.version ?? 0,
      },
      {
        store,
        client: session.client,
        solver: { provider, resolvers: req.dnsResolvers, propagationTimeoutMs: req.propagationTimeoutMs },
        logger: env.logger,
        progress: env.progress,
        signal: env.signal,
        timeoutMs: req.timeoutMs,
      },
    );
    const params: IssueParams = {
      domains,
      dns: req.dns,
      server: session.server.id,
      keyType: req.keyType,
      reuseKey: req.reuseKey,
      ...(req.profile ? { profile: req.profile } : {}),
      ...(req.preferredChain ? { preferredChain: req.preferredChain } : {}),
      ...(req.deployHook ? { deployHook: req.deployHook } : {}),
      createdAt: new Date().toISOString(),
    };
    await store.putParams(name, params);
    return { ...obtained, name, domains, path: store.path('certificates', name) };
  } finally {
    await session.client.close();
  }
}
