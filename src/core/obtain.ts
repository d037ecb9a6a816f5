import { createPrivateKey } from 'node:crypto';
import type { AcmeClient, AcmeOrder } from '../acme/index.js';
import { AcmeProblem } from '../acme/index.js';
import { operationError } from '../errors.js';
import { CasConflictError } from '../vault/errors.js';
import type { Logger } from '../ops/log.js';
import { certificateFacts, certificateMatchesKey, splitPem, type CertificateFacts } from '../pki/cert.js';
import { createCsr } from '../pki/csr.js';
import { generateKey, type KeyType } from '../pki/keys.js';
import type { StateStore } from '../store/store.js';
import type { CertificateMaterial, OrderJournal } from '../store/types.js';
import { solveDns01, type DnsSolver } from './challenges.js';

/** One certificate to obtain: what to ask for and where it goes. */
export interface ObtainPlan {
  name: string;
  serverId: string;
  domains: string[];
  keyType: KeyType;
  profile?: string | undefined;
  preferredChain?: string | undefined;
  /** ARI certificate ID of the certificate being replaced (RFC 9773 `replaces`). */
  replaces?: string | undefined;
  /** PEM of the key to reuse (`--reuse-key`); a new key otherwise. */
  reuseKeyPem?: string | undefined;
  /** Version of the certificate secret this run read (0 = none): the check-and-set for the final write. */
  certVersion: number;
}

export interface ObtainDeps {
  store: StateStore;
  client: AcmeClient;
  solver: DnsSolver;
  logger: Logger;
  progress: (message: string) => void;
  signal?: AbortSignal | undefined;
  /** Overall deadline for the CA to validate and issue. */
  timeoutMs: number;
}

export interface Obtained {
  version: number;
  facts: CertificateFacts;
  orderUrl: string;
  chain: string;
}

/**
 * Orders, validates, finalizes and stores one certificate. The new key and CSR are journaled in the
 * store *before* finalize, so a run killed after that point resumes the same order (see resumeOrder)
 * instead of ordering again; certificate and key are stored together in one check-and-set write.
 */
export async function obtainCertificate(plan: ObtainPlan, deps: ObtainDeps): Promise<Obtained> {
  const deadline = new Date(Date.now() + deps.timeoutMs);
  deps.progress(`ordering ${plan.domains.join(', ')}`);
  const order = await newOrderWithFallback(plan, deps);
  await solveDns01(deps.client, order.authorizations, deps.solver, {
    signal: deps.signal,
    deadline,
    logger: deps.logger,
    progress: deps.progress,
  });
  await deps.client.pollOrder(order.url, { until: 'ready', deadline, signal: deps.signal });

  const keyPem = plan.reuseKeyPem ?? generateKey(plan.keyType).pem;
  const csr = await createCsr(createPrivateKey(keyPem), plan.domains);
  const journal: OrderJournal = {
    orderUrl: order.url,
    key: keyPem,
    csr: csr.toString('base64'),
    domains: plan.domains,
    server: plan.serverId,
    certVersion: plan.certVersion,
    createdAt: new Date().toISOString(),
  };
  await deps.store.putJournal(plan.name, journal);
  deps.progress('finalizing the order');
  try {
    await deps.client.finalize(order, csr, deps.signal);
  } catch (err) {
    // The CA refused the CSR (badCSR, rejectedIdentifier...): nothing to resume.
    if (err instanceof AcmeProblem && err.status < 500) await deps.store.removeJournal(plan.name);
    throw err;
  }
  return completeFromJournal(plan.name, journal, deps, plan.preferredChain, deadline);
}

/**
 * Finishes a journaled order: polls it to valid (finalizing again if the run died before the
 * finalize reached the CA), downloads, checks the key, stores, clears the journal.
 * Returns null when the order can no longer produce a certificate (the journal is then dropped).
 */
export async function resumeOrder(
  name: string,
  journal: OrderJournal,
  deps: ObtainDeps,
  preferredChain?: string,
): Promise<Obtained | null> {
  const deadline = new Date(Date.now() + deps.timeoutMs);
  let order: AcmeOrder;
  try {
    order = await deps.client.getOrder(journal.orderUrl, deps.signal);
  } catch (err) {
    if (err instanceof AcmeProblem && err.status === 404) {
      await deps.store.removeJournal(name);
      return null;
    }
    throw err;
  }
  if (order.status === 'invalid' || order.status === 'pending') {
    await deps.store.removeJournal(name);
    return null;
  }
  deps.progress(`resuming order for ${name} (status ${order.status})`);
  if (order.status === 'ready')
    await deps.client.finalize(order, Buffer.from(journal.csr, 'base64'), deps.signal);
  return completeFromJournal(name, journal, deps, preferredChain, deadline);
}

async function completeFromJournal(
  name: string,
  journal: OrderJournal,
  deps: ObtainDeps,
  preferredChain: string | undefined,
  deadline: Date,
): Promise<Obtained> {
  const valid = await deps.client.pollOrder(journal.orderUrl, {
    until: 'valid',
    deadline,
    signal: deps.signal,
  });
  deps.progress('downloading the certificate');
  const downloaded = await deps.client.downloadCertificate(valid, { preferredChain, signal: deps.signal });
  const material = materialOf(downloaded.pem, journal.key);
  if (!certificateMatchesKey(material.cert, material.privkey)) {
    throw operationError(
      `the CA returned a certificate for ${name} that does not match the journaled key`,
      'nothing was stored; run again',
    );
  }
  const facts = certificateFacts(material.cert);
  let version: number;
  try {
    version = await deps.store.putCertificate(name, material, journal.certVersion);
  } catch (err) {
    // A run killed after storing but before clearing the journal: the certificate is already there.
    if (!(err instanceof CasConflictError)) throw err;
    const stored = await deps.store.getCertificateSummary(name);
    if (stored?.serial !== facts.serial) throw err;
    if (stored.source === 'pem') await deps.store.refreshCertificateMetadata(name);
    version = stored.version;
  }
  await deps.store.removeJournal(name);
  return { version, facts, orderUrl: journal.orderUrl, chain: downloaded.chosen };
}

export function materialOf(pemChain: string, keyPem: string): CertificateMaterial {
  const blocks = splitPem(pemChain);
  const [cert, ...rest] = blocks;
  if (!cert) throw operationError('the CA returned no certificate');
  return { cert, chain: rest.join(''), fullchain: blocks.join(''), privkey: keyPem };
}

/** `replaces` may be refused (409 alreadyReplaced, or an old CA); the order is then placed without it. */
async function newOrderWithFallback(plan: ObtainPlan, deps: ObtainDeps): Promise<AcmeOrder> {
  const base = { identifiers: plan.domains, profile: plan.profile, signal: deps.signal };
  if (!plan.replaces) return deps.client.newOrder(base);
  deps.logger.debug({ name: plan.name, replaces: plan.replaces }, 'ordering a replacement (RFC 9773)');
  try {
    return await deps.client.newOrder({ ...base, replaces: plan.replaces });
  } catch (err) {
    if (
      err instanceof AcmeProblem &&
      (err.shortType === 'alreadyReplaced' || err.status === 409 || err.shortType === 'malformed')
    ) {
      deps.logger.info(
        { name: plan.name, problem: err.shortType },
        'CA refused "replaces"; ordering without it',
      );
      return deps.client.newOrder(base);
    }
    throw err;
  }
}
