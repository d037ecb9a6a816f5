import { AsnConvert } from '@peculiar/asn1-schema';
import { AuthorityKeyIdentifier, Certificate, id_ce_authorityKeyIdentifier } from '@peculiar/asn1-x509';
import { configError, operationError } from '../errors.js';
import type { AcmeSession } from './session.js';
import { parseResource, renewalInfoSchema } from './types.js';

/** RFC 9773 §4.3: poll again no sooner than 60 s, and after 6 h when the CA says nothing. */
export const ARI_MIN_RETRY_MS = 60_000;
export const ARI_DEFAULT_RETRY_MS = 6 * 60 * 60 * 1000;

/**
 * RFC 9773 §4.1 certificate identifier: base64url(AKI keyIdentifier) "." base64url(serial), where the
 * serial is the DER INTEGER's content octets, so a leading 0x00 sign byte is kept. Parsing the DER
 * ourselves matters: X.509 libraries' serialNumber getters drop that byte.
 */
export function ariCertificateId(certPem: string): string {
  const cert = parseFirstCertificate(certPem);
  const serial = Buffer.from(cert.tbsCertificate.serialNumber);
  const ext = cert.tbsCertificate.extensions?.find((e) => e.extnID === id_ce_authorityKeyIdentifier);
  const keyId = ext
    ? AsnConvert.parse(ext.extnValue.buffer, AuthorityKeyIdentifier).keyIdentifier
    : undefined;
  if (!keyId || keyId.buffer.byteLength === 0) {
    throw configError('the certificate has no Authority Key Identifier, so it has no ARI certificate ID');
  }
  return `${Buffer.from(keyId.buffer).toString('base64url')}.${serial.toString('base64url')}`;
}

function parseFirstCertificate(pem: string): Certificate {
  const block = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(pem);
  if (!block?.[1]) throw configError('no PEM certificate found');
  try {
    return AsnConvert.parse(Buffer.from(block[1].replace(/\s+/g, ''), 'base64'), Certificate);
  } catch (err) {
    throw configError(`cannot parse the certificate: ${(err as Error).message}`);
  }
}

export interface RenewalInfo {
  certificateId: string;
  suggestedWindow: { start: Date; end: Date };
  explanationURL?: string;
  /** When to ask again: the CA's Retry-After, at least 60 s away, 6 h when absent. */
  retryAfter: Date;
}

/** GET renewalInfo/<certID> (unauthenticated); null when the CA has no renewalInfo endpoint. */
export async function fetchRenewalInfo(
  session: AcmeSession,
  certPem: string,
  signal?: AbortSignal,
): Promise<RenewalInfo | null> {
  const dir = await session.directory();
  if (!dir.renewalInfo) return null;
  const certificateId = ariCertificateId(certPem);
  const url = `${dir.renewalInfo.replace(/\/+$/, '')}/${certificateId}`;
  const res = await session.get(url, 'renewal info', signal);
  const now = Date.now();
  const body = parseResource(renewalInfoSchema, res.json, 'renewal info', url);
  const start = new Date(body.suggestedWindow.start);
  const end = new Date(body.suggestedWindow.end);
  if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime()) || end.getTime() <= start.getTime()) {
    throw operationError(`CA sent an invalid renewal window (${url})`);
  }
  const delay = res.retryAfter === undefined ? ARI_DEFAULT_RETRY_MS : res.retryAfter.getTime() - now;
  return {
    certificateId,
    suggestedWindow: { start, end },
    ...(body.explanationURL === undefined ? {} : { explanationURL: body.explanationURL }),
    retryAfter: new Date(now + Math.max(delay, ARI_MIN_RETRY_MS)),
  };
}
