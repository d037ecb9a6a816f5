// RFC 9773 ACME Renewal Information: certificate ID and renewalInfo parsing (Pebble 2.4 has no ARI).
import 'reflect-metadata';
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { AcmeClient, AcmeProblem, ariCertificateId } from '../src/acme/index.js';
import { CertvaultError } from '../src/errors.js';
import { generateKey } from '../src/pki/keys.js';
import { startAcmeDouble, type AcmeDouble, type DoubleReply } from './support/ari-double.js';

/** RFC 9773 Appendix A example certificate; §4.1 gives its ID as below. */
const RFC9773_CERT = `-----BEGIN CERTIFICATE-----
MIIBQzCB66ADAgECAgUAh2VDITAKBggqhkjOPQQDAjAVMRMwEQYDVQQDEwpFeGFt
cGxlIENBMCIYDzAwMDEwMTAxMDAwMDAwWhgPMDAwMTAxMDEwMDAwMDBaMBYxFDAS
BgNVBAMTC2V4YW1wbGUuY29tMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEeBZu
7cbpAYNXZLbbh8rNIzuOoqOOtmxA1v7cRm//AwyMwWxyHz4zfwmBhcSrf47NUAFf
qzLQ2PPQxdTXREYEnKMjMCEwHwYDVR0jBBgwFoAUaYhba4dGQEHhs3uEe6CuLN4B
yNQwCgYIKoZIzj0EAwIDRwAwRAIge09+S5TZAlw5tgtiVvuERV6cT4mfutXIlwTb
+FYN/8oCIClDsqBklhB9KAelFiYt9+6FDj3z4KGVelYM5MdsO3pK
-----END CERTIFICATE-----
`;
const RFC9773_ID = 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE';

/** A self-signed certificate from openssl with the given serial; returns PEM and openssl's view of AKI/serial. */
function opensslCert(serial: string): { pem: string; akiHex: string; serialHex: string } {
  const dir = mkdtempSync(join(tmpdir(), 'certvault-ari-'));
  try {
    const cert = join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        cert,
        '-subj',
        '/CN=ari.example',
        '-days',
        '1',
        '-set_serial',
        serial,
        '-addext',
        'authorityKeyIdentifier=keyid:always',
      ],
      { stdio: 'ignore' },
    );
    const text = execFileSync('openssl', ['x509', '-in', cert, '-noout', '-serial', '-text'], {
      encoding: 'utf8',
    });
    const aki = /X509v3 Authority Key Identifier:\s*\n\s*(?:keyid:)?([0-9A-F:]+)/.exec(text)?.[1] ?? '';
    const serialHex = /^serial=([0-9A-F]+)$/m.exec(text)?.[1] ?? '';
    return { pem: readFileSync(cert, 'utf8'), akiHex: aki.replace(/:/g, ''), serialHex };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('ariCertificateId', () => {
  test('RFC 9773 example: keeps the serial leading zero byte', () => {
    assert.equal(ariCertificateId(RFC9773_CERT), RFC9773_ID);
    // A chain works too: the first certificate is the one identified.
    assert.equal(ariCertificateId(RFC9773_CERT + RFC9773_CERT), RFC9773_ID);
  });

  for (const serial of ['0x01020304', '0x87abcdef0123456789', '0x7f']) {
    test(`matches openssl's AKI and DER serial for serial ${serial}`, () => {
      const { pem, akiHex, serialHex } = opensslCert(serial);
      // DER content octets: a leading 00 when the top bit is set.
      const derSerial = Buffer.from(serialHex.length % 2 ? `0${serialHex}` : serialHex, 'hex');
      const content = derSerial[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), derSerial]) : derSerial;
      const expected = `${Buffer.from(akiHex, 'hex').toString('base64url')}.${content.toString('base64url')}`;
      assert.equal(ariCertificateId(pem), expected);
    });
  }

  test('no AKI or no certificate is a config error', async () => {
    type ProviderCrypto = NonNullable<Parameters<typeof x509.cryptoProvider.set>[1]>;
    x509.cryptoProvider.set(webcrypto as unknown as ProviderCrypto);
    const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
    const keys = (await webcrypto.subtle.generateKey(alg, false, [
      'sign',
      'verify',
    ])) as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]['keys'];
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01',
      name: 'CN=no-aki',
      notBefore: new Date(),
      notAfter: new Date(Date.now() + 86_400_000),
      keys,
      signingAlgorithm: alg,
    });
    assert.throws(
      () => ariCertificateId(cert.toString('pem')),
      (e: unknown) =>
        e instanceof CertvaultError && e.kind === 'config' && /no Authority Key Identifier/.test(e.message),
    );
    assert.throws(() => ariCertificateId('not a pem'), /no PEM certificate found/);
  });
});

describe('renewalInfo', () => {
  let double: AcmeDouble | undefined;
  let client: AcmeClient | undefined;
  afterEach(async () => {
    await client?.close();
    await double?.stop();
    client = undefined;
    double = undefined;
  });

  async function withReply(
    reply: DoubleReply,
    renewalInfo = true,
  ): Promise<{ d: AcmeDouble; c: AcmeClient }> {
    const d = await startAcmeDouble({
      renewalInfo,
      handler: (req) => (req.method === 'GET' && req.path.startsWith('/renewal-info/') ? reply : undefined),
    });
    double = d;
    client = await AcmeClient.create({ directoryUrl: d.directoryUrl, accountKey: generateKey().privateKey });
    return { d, c: client };
  }

  const window = { start: '2026-09-01T00:00:00Z', end: '2026-09-16T00:00:00Z' };

  test('unauthenticated GET renewalInfo/<certID>; window, explanationURL, Retry-After', async () => {
    const { d, c } = await withReply({
      headers: { 'retry-after': '21600' },
      json: { suggestedWindow: window, explanationURL: 'https://ca.example/notice' },
    });
    const before = Date.now();
    const info = await c.renewalInfo(RFC9773_CERT);
    assert.ok(info);
    assert.equal(info.certificateId, RFC9773_ID);
    assert.equal(info.suggestedWindow.start.toISOString(), '2026-09-01T00:00:00.000Z');
    assert.equal(info.suggestedWindow.end.toISOString(), '2026-09-16T00:00:00.000Z');
    assert.equal(info.explanationURL, 'https://ca.example/notice');
    assert.ok(Math.abs(info.retryAfter.getTime() - (before + 21_600_000)) < 5000);
    const get = d.requests.find((r) => r.path.startsWith('/renewal-info/'));
    assert.equal(get?.path, `/renewal-info/${RFC9773_ID}`);
    assert.equal(get?.method, 'GET');
    assert.equal(get?.headers.authorization, undefined);
    assert.equal(d.requests.filter((r) => r.method === 'POST' || r.method === 'HEAD').length, 0);
  });

  test('Retry-After under 60 s counts as 60 s; absent means 6 h; HTTP-date accepted', async () => {
    let { c } = await withReply({ headers: { 'retry-after': '5' }, json: { suggestedWindow: window } });
    let before = Date.now();
    let info = await c.renewalInfo(RFC9773_CERT);
    assert.ok(info && Math.abs(info.retryAfter.getTime() - (before + 60_000)) < 5000);
    assert.equal(info.explanationURL, undefined);
    await client?.close();
    await double?.stop();

    ({ c } = await withReply({ json: { suggestedWindow: window } }));
    before = Date.now();
    info = await c.renewalInfo(RFC9773_CERT);
    assert.ok(info && Math.abs(info.retryAfter.getTime() - (before + 6 * 3600_000)) < 5000);
    await client?.close();
    await double?.stop();

    const at = new Date(Math.ceil(Date.now() / 1000) * 1000 + 3600_000);
    ({ c } = await withReply({
      headers: { 'retry-after': at.toUTCString() },
      json: { suggestedWindow: window },
    }));
    info = await c.renewalInfo(RFC9773_CERT);
    assert.equal(info?.retryAfter.getTime(), at.getTime());
  });

  test('null when the directory has no renewalInfo', async () => {
    const { d, c } = await withReply({ json: { suggestedWindow: window } }, false);
    assert.equal(await c.renewalInfo(RFC9773_CERT), null);
    assert.equal(d.requests.filter((r) => r.path.startsWith('/renewal-info/')).length, 0);
  });

  test('bad windows and CA errors', async () => {
    let { c } = await withReply({ json: { suggestedWindow: { start: window.end, end: window.start } } });
    await assert.rejects(c.renewalInfo(RFC9773_CERT), /invalid renewal window/);
    await client?.close();
    await double?.stop();

    ({ c } = await withReply({ json: { window } }));
    await assert.rejects(c.renewalInfo(RFC9773_CERT), /malformed renewal info .* at suggestedWindow/);
    await client?.close();
    await double?.stop();

    ({ c } = await withReply({
      status: 404,
      json: { type: 'urn:ietf:params:acme:error:malformed', detail: 'unknown certificate' },
    }));
    await assert.rejects(c.renewalInfo(RFC9773_CERT), (e: unknown) => {
      assert.ok(e instanceof AcmeProblem);
      assert.equal(e.status, 404);
      assert.equal(e.message, 'CA refused renewal info: malformed: unknown certificate');
      return true;
    });
  });
});
