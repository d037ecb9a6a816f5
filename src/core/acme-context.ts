import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AcmeClient, resolveServer, type ResolvedServer } from '../acme/index.js';
import { configError } from '../errors.js';
import type { Logger } from '../ops/log.js';
import type { StateStore } from '../store/store.js';
import type { Account } from '../store/types.js';

/** How to reach the CA: shared by every command that talks to it. */
export interface AcmeConnection {
  /** PEM of an extra CA trusted for the ACME connection only (`--acme-ca-cert`). */
  caCertPem?: string | undefined;
  logger: Logger;
}

export function readAcmeCaCert(path: string | undefined): string | undefined {
  if (!path) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw configError(
      `cannot read --acme-ca-cert ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      "give the PEM file of the CA that signed the ACME server's TLS certificate",
    );
  }
}

/**
 * The server to use: the one given, else the store's default, else Let's Encrypt. A name may also be
 * the storage ID of a custom directory URL registered before (e.g. `acme.internal-443-directory`).
 */
export async function chooseServer(store: StateStore, given: string | undefined): Promise<ResolvedServer> {
  const wanted = given ?? (await store.getSettings()).defaultServer;
  try {
    return resolveServer(wanted);
  } catch (err) {
    const rec = wanted && /^[a-z0-9._-]+$/i.test(wanted) ? await store.getAccount(wanted) : null;
    if (rec) return { id: wanted as string, url: rec.value.directoryUrl };
    throw err;
  }
}

export interface AccountSession {
  server: ResolvedServer;
  account: Account;
  client: AcmeClient;
}

/** Loads the stored account for a server and opens an ACME client signed with its key. */
export async function openAccount(
  store: StateStore,
  given: string | undefined,
  conn: AcmeConnection,
): Promise<AccountSession> {
  const server = await chooseServer(store, given);
  const rec = await store.getAccount(server.id);
  if (!rec) {
    throw configError(
      `no ACME account for server "${server.id}" in ${store.location}`,
      `run: certvault account register --server ${server.id} --email YOU@EXAMPLE.COM --agree-tos`,
    );
  }
  const client = await AcmeClient.create({
    directoryUrl: rec.value.directoryUrl,
    accountKey: createPrivateKey(rec.value.key),
    accountUrl: rec.value.url,
    caCert: conn.caCertPem,
    logger: conn.logger,
  });
  return { server, account: rec.value, client };
}
