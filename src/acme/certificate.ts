import { X509Certificate } from 'node:crypto';
import { operationError } from '../errors.js';
import { linksWithRel } from './headers.js';
import type { AcmeSession } from './session.js';
import type { AcmeOrder } from './types.js';

const PEM_CHAIN = 'application/pem-certificate-chain';

export interface DownloadOptions {
  /** Issuer CN of the chain's top certificate to prefer, e.g. "ISRG Root X1"; default chain otherwise. */
  preferredChain?: string | undefined;
  signal?: AbortSignal | undefined;
}

export interface DownloadedCertificate {
  /** The chosen chain (leaf first) as PEM. */
  pem: string;
  /** Every chain the CA offers: the default first, then the Link rel="alternate" ones. */
  chains: string[];
  /** Issuer CN of the chosen chain's top certificate (the root it chains to). */
  chosen: string;
}

export async function downloadCertificate(
  session: AcmeSession,
  order: AcmeOrder,
  options: DownloadOptions = {},
): Promise<DownloadedCertificate> {
  if (!order.certificate) {
    throw operationError(
      `order is ${order.status} and has no certificate yet`,
      'finalize it and wait for valid',
    );
  }
  const first = await session.post(order.certificate, '', {
    action: 'certificate download',
    accept: PEM_CHAIN,
    signal: options.signal,
  });
  const chains = [normalizePem(first.text, order.certificate)];
  for (const url of linksWithRel(first.links, 'alternate')) {
    const alt = await session.post(url, '', {
      action: 'alternate chain download',
      accept: PEM_CHAIN,
      signal: options.signal,
    });
    chains.push(normalizePem(alt.text, url));
  }
  const pem = chooseChain(chains, options.preferredChain);
  return { pem, chains, chosen: topIssuerName(pem) };
}

/** The first chain whose top certificate is issued by `preferred`, else one containing that issuer, else the default. */
export function chooseChain(chains: string[], preferred: string | undefined): string {
  const fallback = chains[0] as string;
  if (!preferred) return fallback;
  const want = preferred.trim().toLowerCase();
  const top = chains.find((c) => topIssuerName(c).toLowerCase() === want);
  if (top) return top;
  return (
    chains.find((c) => splitPemChain(c).some((cert) => issuerCn(cert).toLowerCase() === want)) ?? fallback
  );
}

/** Certificates of a PEM bundle, each as its own PEM block. */
export function splitPemChain(pem: string): string[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map(
    (b) => `${b}\n`,
  );
}

export function topIssuerName(chainPem: string): string {
  const certs = splitPemChain(chainPem);
  const top = certs[certs.length - 1];
  return top ? issuerCn(top) : '';
}

function issuerCn(certPem: string): string {
  const issuer = new X509Certificate(certPem).issuer;
  const cn = issuer.split('\n').find((line) => line.startsWith('CN='));
  return cn ? cn.slice(3) : issuer.replace(/\n/g, ', ');
}

function normalizePem(text: string, url: string): string {
  const certs = splitPemChain(text);
  if (certs.length === 0) throw operationError(`CA sent no PEM certificate chain from ${url}`);
  for (const cert of certs) {
    try {
      new X509Certificate(cert);
    } catch (err) {
      throw operationError(`CA sent an unparsable certificate from ${url}`, undefined, err);
    }
  }
  return certs.join('');
}

/** RFC 5280 CRLReason codes ACME accepts (RFC 8555 §7.6). */
export type RevocationReason = 0 | 1 | 3 | 4 | 5 | 9;

/** Revokes with the account key (kid); the account must own the certificate or hold its authorizations. */
export async function revokeCertificate(
  session: AcmeSession,
  certDer: Uint8Array,
  reason?: RevocationReason,
  signal?: AbortSignal,
): Promise<void> {
  const dir = await session.directory();
  const payload: Record<string, unknown> = { certificate: Buffer.from(certDer).toString('base64url') };
  if (reason !== undefined) payload.reason = reason;
  await session.post(dir.revokeCert, payload, { action: 'certificate revocation', signal });
}
