import { createPublicKey, sign, type KeyObject } from 'node:crypto';
import { configError } from '../errors.js';
import {
  bitString,
  nullValue,
  objectId,
  octetString,
  sequence,
  set,
  smallInteger,
  tlv,
  utf8String,
} from './der.js';
import { keyTypeOf, type KeyType } from './keys.js';

/** RFC 5280 upper bound for a commonName; longer first names go only into the SAN list. */
const MAX_CN_LENGTH = 64;

const OID = {
  commonName: '2.5.4.3',
  extensionRequest: '1.2.840.113549.1.9.14',
  subjectAltName: '2.5.29.17',
  ecdsaSha256: '1.2.840.10045.4.3.2',
  ecdsaSha384: '1.2.840.10045.4.3.3',
  rsaSha256: '1.2.840.113549.1.1.11',
};

/**
 * A PKCS#10 request (RFC 2986), DER: every name as a dNSName SAN, the first also as the subject CN.
 * Names are lowercased and deduplicated, keeping their order. Signed with the certificate key
 * (ECDSA signatures in X.509 are DER, node's default; RSA is PKCS#1 v1.5 with SHA-256).
 */
export async function createCsr(key: KeyObject, names: string[]): Promise<Buffer> {
  if (key.type !== 'private') throw configError('a CSR needs the private key, got a public key');
  const unique = normalizeNames(names);
  const type = keyTypeOf(key);
  const first = unique[0] as string;
  const subject =
    first.length <= MAX_CN_LENGTH
      ? sequence(set(sequence(objectId(OID.commonName), utf8String(first))))
      : sequence();
  const san = sequence(...unique.map((n) => tlv(0x82, Buffer.from(n, 'ascii')))); // [2] IMPLICIT IA5String dNSName
  const extensions = sequence(sequence(objectId(OID.subjectAltName), octetString(san)));
  const attributes = tlv(0xa0, sequence(objectId(OID.extensionRequest), set(extensions))); // [0] IMPLICIT SET OF Attribute
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const info = sequence(smallInteger(0), subject, spki, attributes);
  const { algorithm, hash } = signatureAlgorithm(type);
  return sequence(info, algorithm, bitString(sign(hash, info, key)));
}

function signatureAlgorithm(type: KeyType): { algorithm: Buffer; hash: string } {
  if (type === 'ecdsa-p256') return { algorithm: sequence(objectId(OID.ecdsaSha256)), hash: 'sha256' };
  if (type === 'ecdsa-p384') return { algorithm: sequence(objectId(OID.ecdsaSha384)), hash: 'sha384' };
  return { algorithm: sequence(objectId(OID.rsaSha256), nullValue()), hash: 'sha256' };
}

export function normalizeNames(names: string[]): string[] {
  const out: string[] = [];
  for (const raw of names) {
    const name = raw.trim().toLowerCase();
    if (!isDnsName(name)) throw configError(`"${raw}" is not a valid DNS name for a certificate`);
    if (!out.includes(name)) out.push(name);
  }
  if (out.length === 0) throw configError('a certificate needs at least one name');
  return out;
}

/** ASCII (already punycoded) host name, optionally with one leading "*." label. */
function isDnsName(name: string): boolean {
  const host = name.startsWith('*.') ? name.slice(2) : name;
  if (host.length === 0 || host.length > 253) return false;
  return host.split('.').every((label) => /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?$/.test(label));
}
