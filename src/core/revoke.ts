import { X509Certificate } from 'node:crypto';
import type { RevocationReason } from '../acme/index.js';
import { operationError, usageError } from '../errors.js';
import type { StateStore } from '../store/store.js';
import { openAccount, type AcmeConnection } from './acme-context.js';

export const REVOCATION_REASONS: Record<string, RevocationReason> = {
  unspecified: 0,
  keyCompromise: 1,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
};

export function parseReason(reason: string | undefined): RevocationReason | undefined {
  if (reason === undefined) return undefined;
  const code = REVOCATION_REASONS[reason];
  if (code === undefined)
    throw usageError(
      `unknown revocation reason "${reason}"`,
      `use one of ${Object.keys(REVOCATION_REASONS).join(', ')}`,
    );
  return code;
}

/** Revokes the stored certificate with the account that issued it (its server from the parameters). */
export async function revoke(
  store: StateStore,
  name: string,
  reason: RevocationReason | undefined,
  server: string | undefined,
  conn: AcmeConnection,
): Promise<{ serial: string; server: string }> {
  const cert = await store.getCertificate(name);
  if (!cert)
    throw operationError(`no certificate named "${name}" in ${store.location}`, 'see `certvault list`');
  const params = await store.getParams(name);
  const session = await openAccount(store, server ?? params?.value.server, conn);
  try {
    await session.client.revoke(new X509Certificate(cert.material.cert).raw, reason);
  } finally {
    await session.client.close();
  }
  return { serial: cert.serial, server: session.server.id };
}
