import { configError } from '../errors.js';
import { children, decodeObjectId, read } from './der.js';

const AUTHORITY_KEY_IDENTIFIER = '2.5.29.35';

/**
 * RFC 9773 §4.1 certificate identifier: base64url(AKI keyIdentifier) "." base64url(serial), where the
 * serial is the DER INTEGER's content octets, so a leading 0x00 sign byte is kept. Parsing the DER
 * ourselves matters: X.509 libraries' serialNumber getters drop that byte.
 */
export function ariCertificateId(certPem: string): string {
  const tbs = tbsFields(certificateDer(certPem));
  // tbsCertificate: [0] version (optional), serialNumber, signature, issuer, validity, subject, spki, ..., [3] extensions
  const fields = tbs[0]?.tag === 0xa0 ? tbs.slice(1) : tbs;
  const serial = fields[0];
  if (!serial || serial.tag !== 0x02) throw configError('cannot parse the certificate: no serial number');
  const keyId = authorityKeyId(tbs.find((f) => f.tag === 0xa3)?.content);
  if (!keyId || keyId.length === 0) {
    throw configError('the certificate has no Authority Key Identifier, so it has no ARI certificate ID');
  }
  return `${keyId.toString('base64url')}.${serial.content.toString('base64url')}`;
}

function certificateDer(pem: string): Buffer {
  const block = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(pem);
  if (!block?.[1]) throw configError('no PEM certificate found');
  return Buffer.from(block[1].replace(/\s+/g, ''), 'base64');
}

function tbsFields(der: Buffer) {
  try {
    const cert = read(der);
    const tbs = children(cert.content)[0];
    if (cert.tag !== 0x30 || !tbs || tbs.tag !== 0x30) throw new Error('not a certificate');
    return children(tbs.content);
  } catch (err) {
    throw configError(`cannot parse the certificate: ${(err as Error).message}`);
  }
}

/** keyIdentifier ([0] IMPLICIT OCTET STRING) of the AKI extension inside [3] { SEQUENCE OF Extension }. */
function authorityKeyId(extensionsWrapper: Buffer | undefined): Buffer | undefined {
  if (!extensionsWrapper) return undefined;
  const list = children(extensionsWrapper)[0];
  for (const ext of list ? children(list.content) : []) {
    const [id, ...rest] = children(ext.content);
    if (!id || decodeObjectId(id.content) !== AUTHORITY_KEY_IDENTIFIER) continue;
    const value = rest[rest.length - 1]; // after the optional `critical` BOOLEAN
    if (!value) return undefined;
    const aki = read(value.content);
    return children(aki.content).find((c) => c.tag === 0x80)?.content;
  }
  return undefined;
}
