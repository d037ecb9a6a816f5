import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { ariCertificateId } from './ari-id.js';

/** Non-secret facts about a certificate: what listing and status show without touching a private key. */
export interface CertificateFacts {
  domains: string[];
  notBefore: Date;
  notAfter: Date;
  /** Lower-case hex, as `openssl x509 -serial` shows it (without a DER sign byte). */
  serial: string;
  /** Issuer common name (or the whole issuer DN when it has no CN). */
  issuer: string;
  keyType: string;
  /** RFC 9773 certificate ID (absent when the certificate has no Authority Key Identifier). */
  ariId?: string | undefined;
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Every certificate block of a PEM bundle, normalised to end with a newline. */
export function splitPem(bundle: string): string[] {
  return (bundle.match(PEM_BLOCK) ?? []).map((b) => `${b}\n`);
}

export function certificateFacts(pem: string): CertificateFacts {
  const first = splitPem(pem)[0];
  if (!first) throw new Error('no PEM certificate found');
  const cert = new X509Certificate(first);
  // node prints SANs as "DNS:a.example, DNS:*.b.example"; hostnames never contain ", ".
  const sanNames = (cert.subjectAltName ?? '')
    .split(', ')
    .filter((n) => n.startsWith('DNS:'))
    .map((n) => n.slice(4));
  const cn = commonName(cert.subject);
  const domains = sanNames.length > 0 ? sanNames : cn ? [cn] : [];
  return {
    domains,
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    serial: cert.serialNumber.toLowerCase(),
    issuer: commonName(cert.issuer) ?? cert.issuer.replace(/\n/g, ', '),
    keyType: keyTypeName(cert.publicKey),
    ariId: ariIdOrUndefined(first),
  };
}

function ariIdOrUndefined(pem: string): string | undefined {
  try {
    return ariCertificateId(pem);
  } catch {
    return undefined;
  }
}

/** node gives distinguished names one attribute per line ("C=US\nO=...\nCN=..."). */
function commonName(dn: string): string | undefined {
  return /^CN=(.+)$/m.exec(dn)?.[1]?.trim();
}

/** Our key-type names (`ecdsa-p256`, `rsa-2048`, ...) for a public or private key. */
export function keyTypeName(key: KeyObject): string {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec') {
    const curve = details.namedCurve;
    return curve === 'prime256v1' ? 'ecdsa-p256' : curve === 'secp384r1' ? 'ecdsa-p384' : `ecdsa-${curve}`;
  }
  if (key.asymmetricKeyType === 'rsa') return `rsa-${details.modulusLength ?? 0}`;
  return key.asymmetricKeyType ?? 'unknown';
}

/** True when the private key belongs to the leaf certificate of the bundle. */
export function certificateMatchesKey(certPem: string, keyPem: string): boolean {
  const first = splitPem(certPem)[0];
  if (!first) return false;
  try {
    return new X509Certificate(first).checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}
