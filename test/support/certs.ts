import 'reflect-metadata';
import { webcrypto, KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export interface TestCert {
  cert: string;
  chain: string;
  fullchain: string;
  privkey: string;
}

const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
let issuer: { keys: CryptoKeyPair; cert: x509.X509Certificate } | undefined;

async function testIssuer() {
  if (issuer) return issuer;
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=certvault test CA',
    notBefore: new Date(Date.now() - 86_400_000),
    notAfter: new Date(Date.now() + 3650 * 86_400_000),
    keys,
    signingAlgorithm: alg,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
  });
  issuer = { keys, cert };
  return issuer;
}

/** A leaf certificate signed by a per-process test CA, as the seed's scripts would have stored it. */
export async function makeCert(
  domains: string[],
  opts: { notBefore?: Date; notAfter?: Date; serial?: string; authorityKeyId?: boolean } = {},
): Promise<TestCert> {
  const ca = await testIssuer();
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber:
      opts.serial ??
      Buffer.from(webcrypto.getRandomValues(new Uint8Array(8)))
        .toString('hex')
        .replace(/^[89a-f]/, '1'),
    subject: `CN=${domains[0]}`,
    issuer: ca.cert.subject,
    notBefore: opts.notBefore ?? new Date(Date.now() - 3600_000),
    notAfter: opts.notAfter ?? new Date(Date.now() + 90 * 86_400_000),
    signingKey: ca.keys.privateKey,
    publicKey: keys.publicKey,
    signingAlgorithm: alg,
    extensions: [
      new x509.SubjectAlternativeNameExtension(domains.map((d) => ({ type: 'dns' as const, value: d }))),
      // As every public CA sets it; with the serial it makes the ARI certificate ID.
      ...(opts.authorityKeyId ? [await x509.AuthorityKeyIdentifierExtension.create(ca.cert)] : []),
    ],
  });
  const pkcs8 = KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString();
  const certPem = `${cert.toString('pem')}\n`;
  const chain = `${ca.cert.toString('pem')}\n`;
  return { cert: certPem, chain, fullchain: certPem + chain, privkey: pkcs8 };
}
