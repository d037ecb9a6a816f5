import { createPublicKey, type KeyObject } from 'node:crypto';
import { FlattenedSign, calculateJwkThumbprint, exportJWK, type FlattenedJWS, type JWK } from 'jose';
import { configError } from '../errors.js';
import { jwsAlgFor, type JwsAlg } from '../pki/keys.js';

/** An account key ready to sign: algorithm, public JWK and its RFC 7638 thumbprint. */
export interface AccountSigner {
  readonly key: KeyObject;
  readonly alg: JwsAlg;
  readonly jwk: JWK;
  readonly thumbprint: string;
}

export async function accountSigner(key: KeyObject): Promise<AccountSigner> {
  if (key.type !== 'private') throw configError('the ACME account key must be a private key');
  const alg = jwsAlgFor(key);
  const jwk = publicJwk(await exportJWK(createPublicKey(key)));
  return { key, alg, jwk, thumbprint: await calculateJwkThumbprint(jwk, 'sha256') };
}

/** Only the members RFC 7638 requires, so the JWK we send equals the one we hash. */
function publicJwk(jwk: JWK): JWK {
  if (jwk.kty === 'EC') return { kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y } as JWK;
  return { kty: jwk.kty, n: jwk.n, e: jwk.e } as JWK;
}

/** `''` is POST-as-GET: the JWS payload is the empty string (RFC 8555 §6.3). */
export type JwsPayload = object | '';

export interface JwsHeaderInput {
  url: string;
  /** Absent only for the inner JWS of a key change. */
  nonce?: string;
  /** Account URL; when absent the JWK is embedded instead. */
  kid?: string;
}

export function signJws(
  signer: AccountSigner,
  header: JwsHeaderInput,
  payload: JwsPayload,
): Promise<FlattenedJWS> {
  const bytes = payload === '' ? new Uint8Array(0) : new TextEncoder().encode(JSON.stringify(payload));
  const protectedHeader: Record<string, unknown> = { alg: signer.alg, url: header.url };
  if (header.nonce !== undefined) protectedHeader.nonce = header.nonce;
  if (header.kid !== undefined) protectedHeader.kid = header.kid;
  else protectedHeader.jwk = signer.jwk;
  return new FlattenedSign(bytes).setProtectedHeader(protectedHeader).sign(signer.key);
}

export interface ExternalAccountBinding {
  kid: string;
  /** The CA's MAC key, base64url as CAs hand it out. */
  hmacKey: string;
}

/** The externalAccountBinding member of newAccount (RFC 8555 §7.3.4): HS256 over the account JWK. */
export function signEab(
  eab: ExternalAccountBinding,
  accountJwk: JWK,
  newAccountUrl: string,
): Promise<FlattenedJWS> {
  const key = decodeHmacKey(eab.hmacKey);
  return new FlattenedSign(new TextEncoder().encode(JSON.stringify(accountJwk)))
    .setProtectedHeader({ alg: 'HS256', kid: eab.kid, url: newAccountUrl })
    .sign(key);
}

function decodeHmacKey(value: string): Uint8Array {
  // Some CAs pad or use the standard alphabet; normalise rather than fail. Never echo the value.
  const text = value.trim().replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
  if (!/^[A-Za-z0-9_-]+$/.test(text)) throw configError('the EAB HMAC key is not base64url');
  const key = Buffer.from(text, 'base64url');
  if (key.length === 0) throw configError('the EAB HMAC key is empty');
  return new Uint8Array(key);
}
