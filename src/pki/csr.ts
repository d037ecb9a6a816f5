// @peculiar/x509 v2 resolves its services through tsyringe, which needs this polyfill loaded first.
import 'reflect-metadata';
import { createPublicKey, webcrypto, type KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { configError } from '../errors.js';
import { keyTypeOf, type KeyType } from './keys.js';

// No DOM lib here, so the WebCrypto types come from the library's own signatures.
type CsrParams = Parameters<typeof x509.Pkcs10CertificateRequestGenerator.create>[0];
type ProviderCrypto = Parameters<typeof x509.cryptoProvider.set>[1];

x509.cryptoProvider.set(webcrypto as unknown as NonNullable<ProviderCrypto>);

/** RFC 5280 upper bound for a commonName; longer first names go only into the SAN list. */
const MAX_CN_LENGTH = 64;

/**
 * A PKCS#10 request (DER) for `names`: every name as a dNSName SAN, the first also as the subject CN.
 * Names are lowercased and deduplicated, keeping their order.
 */
export async function createCsr(key: KeyObject, names: string[]): Promise<Buffer> {
  if (key.type !== 'private') throw configError('a CSR needs the private key, got a public key');
  const unique = normalizeNames(names);
  const type = keyTypeOf(key);
  const keys = await toCryptoKeyPair(key, type);
  const first = unique[0] as string;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    ...(first.length <= MAX_CN_LENGTH ? { name: [{ CN: [first] }] } : {}),
    keys,
    signingAlgorithm: signingAlgorithmFor(type),
    extensions: [
      new x509.SubjectAlternativeNameExtension(unique.map((value) => ({ type: 'dns' as const, value }))),
    ],
  });
  return Buffer.from(csr.rawData);
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

function signingAlgorithmFor(type: KeyType): CsrParams['signingAlgorithm'] {
  if (type === 'ecdsa-p256') return { name: 'ECDSA', hash: 'SHA-256' };
  if (type === 'ecdsa-p384') return { name: 'ECDSA', hash: 'SHA-384' };
  return { name: 'RSASSA-PKCS1-v1_5' };
}

async function toCryptoKeyPair(key: KeyObject, type: KeyType): Promise<CsrParams['keys']> {
  const algorithm =
    type === 'ecdsa-p256'
      ? { name: 'ECDSA', namedCurve: 'P-256' }
      : type === 'ecdsa-p384'
        ? { name: 'ECDSA', namedCurve: 'P-384' }
        : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const subtle = webcrypto.subtle;
  const privateKey = await subtle.importKey(
    'pkcs8',
    key.export({ type: 'pkcs8', format: 'der' }),
    algorithm,
    false,
    ['sign'],
  );
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const publicKey = await subtle.importKey('spki', spki, algorithm, true, ['verify']);
  return { privateKey, publicKey } as unknown as CsrParams['keys'];
}
