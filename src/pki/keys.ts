import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { configError } from '../errors.js';

/** Key types we issue for and sign ACME requests with. ecdsa-p256 is the default. */
export const KEY_TYPES = ['ecdsa-p256', 'ecdsa-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096'] as const;
export type KeyType = (typeof KEY_TYPES)[number];
export const DEFAULT_KEY_TYPE: KeyType = 'ecdsa-p256';

export type JwsAlg = 'ES256' | 'ES384' | 'RS256';

export interface GeneratedKey {
  privateKey: KeyObject;
  /** PKCS#8 PEM, the form stored in Vault. */
  pem: string;
}

export function isKeyType(value: string): value is KeyType {
  return (KEY_TYPES as readonly string[]).includes(value);
}

export function parseKeyType(value: string): KeyType {
  if (isKeyType(value)) return value;
  throw configError(`unknown key type "${value}"`, `use one of ${KEY_TYPES.join(', ')}`);
}

export function generateKey(type: KeyType = DEFAULT_KEY_TYPE): GeneratedKey {
  const { privateKey } = generatePair(type);
  return { privateKey, pem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

function generatePair(type: KeyType): { privateKey: KeyObject } {
  switch (type) {
    case 'ecdsa-p256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' });
    case 'ecdsa-p384':
      return generateKeyPairSync('ec', { namedCurve: 'P-384' });
    case 'rsa-2048':
      return generateKeyPairSync('rsa', { modulusLength: 2048 });
    case 'rsa-3072':
      return generateKeyPairSync('rsa', { modulusLength: 3072 });
    case 'rsa-4096':
      return generateKeyPairSync('rsa', { modulusLength: 4096 });
  }
}

/** The key type of a private or public key; throws for anything we do not support. */
export function keyTypeOf(key: KeyObject): KeyType {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec') {
    if (details.namedCurve === 'prime256v1') return 'ecdsa-p256';
    if (details.namedCurve === 'secp384r1') return 'ecdsa-p384';
  }
  if (key.asymmetricKeyType === 'rsa') {
    const bits = details.modulusLength;
    if (bits === 2048) return 'rsa-2048';
    if (bits === 3072) return 'rsa-3072';
    if (bits === 4096) return 'rsa-4096';
  }
  throw configError(`unsupported key (${describeKey(key)})`, `use one of ${KEY_TYPES.join(', ')}`);
}

/** JWS algorithm for an account key: the curve decides for ECDSA, RSA is always RS256. */
export function jwsAlgFor(key: KeyObject): JwsAlg {
  const type = keyTypeOf(key);
  if (type === 'ecdsa-p256') return 'ES256';
  if (type === 'ecdsa-p384') return 'ES384';
  return 'RS256';
}

function describeKey(key: KeyObject): string {
  if (key.type === 'secret') return 'symmetric key';
  const d = key.asymmetricKeyDetails ?? {};
  const extra = d.namedCurve ?? (d.modulusLength === undefined ? '' : `${d.modulusLength} bits`);
  return `${key.asymmetricKeyType ?? 'unknown'}${extra ? ` ${extra}` : ''}`;
}
