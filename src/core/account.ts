import { createPrivateKey } from 'node:crypto';
import { AcmeClient, type ResolvedServer } from '../acme/index.js';
import { usageError } from '../errors.js';
import { generateKey, keyTypeOf, type KeyType } from '../pki/keys.js';
import type { StateStore } from '../store/store.js';
import type { Account } from '../store/types.js';
import { chooseServer, type AcmeConnection } from './acme-context.js';

export interface RegisterRequest {
  email: string[];
  agreeTos: boolean;
  server?: string | undefined;
  keyType: KeyType;
  eab?: { kid: string; hmacKey: string } | undefined;
}

export interface RegisterResult {
  server: ResolvedServer;
  account: Account;
  /** False when an account for this server was already stored (nothing changed). */
  created: boolean;
}

/**
 * Registers an ACME account and stores its key in the store (never on disk). Idempotent: with an
 * account already stored for the server, it is returned unchanged. The server becomes the default.
 */
export async function registerAccount(
  store: StateStore,
  req: RegisterRequest,
  conn: AcmeConnection,
): Promise<RegisterResult> {
  if (!req.agreeTos)
    throw usageError(
      'registering needs --agree-tos',
      "read the CA's terms of service (shown by `certvault account register --help`), then pass --agree-tos",
    );
  for (const e of req.email) {
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(e))
      throw usageError(`invalid e-mail address "${e}"`, 'pass --email you@example.com');
  }
  const server = await chooseServer(store, req.server);
  const existing = await store.getAccount(server.id);
  if (existing) {
    await rememberDefault(store, server.id);
    return { server, account: existing.value, created: false };
  }
  const key = generateKey(req.keyType);
  const client = await AcmeClient.create({
    directoryUrl: server.url,
    accountKey: key.privateKey,
    caCert: conn.caCertPem,
    logger: conn.logger,
  });
  try {
    const result = await client.newAccount({
      contact: req.email,
      termsOfServiceAgreed: true,
      ...(req.eab ? { eab: req.eab } : {}),
    });
    const account: Account = {
      server: server.id,
      directoryUrl: server.url,
      url: result.url,
      key: key.pem,
      contact: result.account.contact ?? req.email.map((e) => `mailto:${e}`),
      createdAt: new Date().toISOString(),
    };
    await store.putAccount(server.id, account, 0);
    await rememberDefault(store, server.id);
    return { server, account, created: true };
  } finally {
    await client.close();
  }
}

async function rememberDefault(store: StateStore, serverId: string): Promise<void> {
  const settings = await store.getSettings();
  if (settings.defaultServer !== serverId) await store.putSettings({ ...settings, defaultServer: serverId });
}

export interface AccountView {
  server: string;
  directoryUrl: string;
  url: string;
  contact: string[];
  keyType: string;
  createdAt: string;
  default: boolean;
}

export async function showAccount(store: StateStore, given: string | undefined): Promise<AccountView | null> {
  const server = await chooseServer(store, given);
  const rec = await store.getAccount(server.id);
  if (!rec) return null;
  const { defaultServer } = await store.getSettings();
  const a = rec.value;
  return {
    server: a.server,
    directoryUrl: a.directoryUrl,
    url: a.url,
    contact: a.contact,
    keyType: keyTypeOf(createPrivateKey(a.key)),
    createdAt: a.createdAt,
    default: defaultServer === a.server,
  };
}
