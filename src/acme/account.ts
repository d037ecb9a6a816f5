import type { KeyObject } from 'node:crypto';
import { configError, operationError } from '../errors.js';
import { accountSigner, signEab, signJws, type ExternalAccountBinding } from './jws.js';
import type { AcmeSession } from './session.js';
import { accountSchema, parseResource, type AcmeAccount } from './types.js';

export interface NewAccountOptions {
  /** E-mail addresses or URIs; a bare address gets "mailto:". */
  contact?: string[];
  termsOfServiceAgreed?: boolean;
  /** Look up the account for this key without creating one (RFC 8555 §7.3.1). */
  onlyReturnExisting?: boolean;
  eab?: ExternalAccountBinding;
  signal?: AbortSignal;
}

export interface AccountResult {
  /** The account URL (kid for later requests). */
  url: string;
  account: AcmeAccount;
  /** True when the CA created the account now (201), false when it already existed (200). */
  created: boolean;
}

export async function newAccount(session: AcmeSession, options: NewAccountOptions): Promise<AccountResult> {
  const dir = await session.directory();
  const lookup = options.onlyReturnExisting === true;
  if (dir.meta?.externalAccountRequired && !options.eab && !lookup) {
    throw configError(
      'this CA requires external account binding',
      'get an EAB key ID and HMAC key from the CA and pass them when registering',
    );
  }
  const payload: Record<string, unknown> = {};
  if (options.contact && options.contact.length > 0) payload.contact = options.contact.map(contactUri);
  if (options.termsOfServiceAgreed !== undefined) payload.termsOfServiceAgreed = options.termsOfServiceAgreed;
  if (lookup) payload.onlyReturnExisting = true;
  if (options.eab && !lookup) {
    payload.externalAccountBinding = await signEab(options.eab, session.signer.jwk, dir.newAccount);
  }
  const action = lookup ? 'account lookup' : 'new account';
  const res = await session.post(dir.newAccount, payload, { action, auth: 'jwk', signal: options.signal });
  if (!res.location) throw operationError(`CA answered ${action} without the account URL (Location header)`);
  session.accountUrl = res.location;
  return {
    url: res.location,
    account: parseResource(accountSchema, res.json, 'account', res.location),
    created: res.status === 201,
  };
}

function contactUri(value: string): string {
  const text = value.trim();
  if (/^[a-z][a-z0-9+.-]*:/i.test(text)) return text;
  if (!/^[^@\s]+@[^@\s]+$/.test(text)) throw configError(`contact "${text}" is not an e-mail address`);
  return `mailto:${text}`;
}

/**
 * RFC 8555 §7.3.5: the inner JWS is signed by the new key (jwk, no nonce) over {account, oldKey}; the
 * outer one by the current key. Later requests use the new key.
 */
export async function accountKeyRollover(
  session: AcmeSession,
  newKey: KeyObject,
  signal?: AbortSignal,
): Promise<void> {
  const dir = await session.directory();
  const account = session.requireAccountUrl();
  const next = await accountSigner(newKey);
  const inner = await signJws(next, { url: dir.keyChange }, { account, oldKey: session.signer.jwk });
  await session.post(dir.keyChange, inner, { action: 'account key rollover', signal });
  session.signer = next;
}

export async function deactivateAccount(session: AcmeSession, signal?: AbortSignal): Promise<AcmeAccount> {
  const url = session.requireAccountUrl();
  const res = await session.post(url, { status: 'deactivated' }, { action: 'account deactivation', signal });
  return parseResource(accountSchema, res.json, 'account', url);
}
