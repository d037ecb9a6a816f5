import { operationError } from '../errors.js';
import { ariCertificateId } from '../pki/ari-id.js';
import type { AcmeSession } from './session.js';
import { parseResource, renewalInfoSchema } from './types.js';

/** RFC 9773 §4.3: poll again no sooner than 60 s, and after 6 h when the CA says nothing. */
export const ARI_MIN_RETRY_MS = 60_000;
export const ARI_DEFAULT_RETRY_MS = 6 * 60 * 60 * 1000;

export interface RenewalInfo {
  certificateId: string;
  suggestedWindow: { start: Date; end: Date };
  explanationURL?: string;
  /** When to ask again: the CA's Retry-After, at least 60 s away, 6 h when absent. */
  retryAfter: Date;
}

export { ariCertificateId };

/**
 * GET renewalInfo/<certID> (unauthenticated); null when the CA has no renewalInfo endpoint.
 * Takes the certificate PEM or its ARI ID (kept in the store's metadata, so no PEM read is needed).
 */
export async function fetchRenewalInfo(
  session: AcmeSession,
  cert: { pem: string } | { id: string },
  signal?: AbortSignal,
): Promise<RenewalInfo | null> {
  const dir = await session.directory();
  if (!dir.renewalInfo) return null;
  const certificateId = 'id' in cert ? cert.id : ariCertificateId(cert.pem);
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
