import { AsnConvert } from '@peculiar/asn1-schema';
import { AuthorityKeyIdentifier, Certificate, id_ce_authorityKeyIdentifier } from '@peculiar/asn1-x509';
import { configError } from '../errors.js';

/**
 * RFC 9773 §4.1 certificate identifier: base64url(AKI keyIdentifier) "." base64url(serial), where the
 * serial is the DER INTEGER's content octets, so a leading 0x00 sign byte is kept. Parsing the DER
 * ourselves matters: X.509 libraries' serialNumber getters drop that byte.
 */
export function ariCertificateId(certPem: string): string {
  const cert = parseFirstCertificate(certPem);
  const serial = Buffer.from(cert.tbsCertificate.serialNumber);
  const ext = cert.tbsCertificate.extensions?.find((e) => e.extnID === id_ce_authorityKeyIdentifier);
  const keyId = ext
    ? AsnConvert.parse(ext.extnValue.buffer, AuthorityKeyIdentifier).keyIdentifier
    : undefined;
  if (!keyId || keyId.buffer.byteLength === 0) {
    throw configError('the certificate has no Authority Key Identifier, so it has no ARI certificate ID');
  }
  return `${Buffer.from(keyId.buffer).toString('base64url')}.${serial.toString('base64url')}`;
}

function parseFirstCertificate(pem: string): Certificate {
  const block = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(pem);
  if (!block?.[1]) throw configError('no PEM certificate found');
  try {
    return AsnConvert.parse(Buffer.from(block[1].replace(/\s+/g, ''), 'base64'), Certificate);
  } catch (err) {
    throw configError(`cannot parse the certificate: ${(err as Error).message}`);
  }
}
