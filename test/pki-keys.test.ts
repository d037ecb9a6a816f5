import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertvaultError } from '../src/errors.js';
import { KEY_TYPES, generateKey, jwsAlgFor, keyTypeOf, parseKeyType } from '../src/pki/keys.js';
import { createCsr, normalizeNames } from '../src/pki/csr.js';

const expectedAlg = {
  'ecdsa-p256': 'ES256',
  'ecdsa-p384': 'ES384',
  'rsa-2048': 'RS256',
  'rsa-3072': 'RS256',
  'rsa-4096': 'RS256',
};

function opensslReq(der: Buffer, ...args: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'certvault-csr-'));
  try {
    const path = join(dir, 'req.der');
    writeFileSync(path, der);
    return execFileSync('openssl', ['req', '-inform', 'DER', '-in', path, '-noout', ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const type of KEY_TYPES) {
  test(`${type}: generate, detect, PKCS#8 round trip, CSR verified by openssl`, async () => {
    const { privateKey, pem } = generateKey(type);
    assert.match(pem, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.equal(keyTypeOf(privateKey), type);
    assert.equal(keyTypeOf(createPrivateKey(pem)), type);
    assert.equal(keyTypeOf(createPublicKey(privateKey)), type);
    assert.equal(jwsAlgFor(privateKey), expectedAlg[type]);

    const der = await createCsr(privateKey, [
      'WWW.Example.com',
      '*.example.com',
      'example.com',
      'www.example.com',
    ]);
    opensslReq(der, '-verify');
    const text = opensslReq(der, '-text');
    assert.match(text, /Subject: CN\s*=\s*www\.example\.com/);
    assert.match(text, /DNS:www\.example\.com, DNS:\*\.example\.com, DNS:example\.com\s/);
  });
}

test('default key type is ecdsa-p256', () => {
  assert.equal(keyTypeOf(generateKey().privateKey), 'ecdsa-p256');
});

test('unsupported keys and names are config errors', async () => {
  const p521 = generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey;
  assert.throws(
    () => keyTypeOf(p521),
    (e: unknown) => e instanceof CertvaultError && e.kind === 'config',
  );
  assert.throws(() => jwsAlgFor(p521), /unsupported key \(ec secp521r1\)/);
  assert.throws(() => parseKeyType('dsa'), /unknown key type "dsa"/);
  assert.equal(parseKeyType('rsa-3072'), 'rsa-3072');
  assert.throws(() => normalizeNames([]), /at least one name/);
  assert.throws(() => normalizeNames(['exa mple.com']), /not a valid DNS name/);
  assert.throws(() => normalizeNames(['a.*.example.com']), /not a valid DNS name/);
  const { privateKey } = generateKey();
  await assert.rejects(createCsr(createPublicKey(privateKey), ['example.com']), /needs the private key/);
});

test('a first name longer than 64 characters stays out of the subject', async () => {
  const long = `${'a'.repeat(60)}.example.com`;
  const der = await createCsr(generateKey().privateKey, [long]);
  opensslReq(der, '-verify');
  const text = opensslReq(der, '-text');
  assert.doesNotMatch(text, /Subject: CN/);
  assert.ok(text.includes(`DNS:${long}`));
});
