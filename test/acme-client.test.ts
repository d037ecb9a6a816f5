// End-to-end against a real Pebble 2.4 with pebble-challtestsrv as its DNS server (127.0.0.1 only).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, type KeyObject } from 'node:crypto';
import { AcmeClient, AcmeProblem, splitPemChain, type AcmeOrder } from '../src/acme/index.js';
import { pino, type Logger } from 'pino';
import { CertvaultError } from '../src/errors.js';
import { createCsr } from '../src/pki/csr.js';
import { generateKey, type KeyType } from '../src/pki/keys.js';
import {
  startChallTestSrv,
  startPebble,
  type ChallTestSrvHandle,
  type PebbleHandle,
} from './support/pebble.js';

const deadline = () => new Date(Date.now() + 30_000);

async function client(
  pebble: PebbleHandle,
  key: KeyObject,
  accountUrl?: string,
  logger?: Logger,
): Promise<AcmeClient> {
  return AcmeClient.create({
    directoryUrl: pebble.directoryUrl,
    accountKey: key,
    accountUrl,
    caCert: pebble.caCertPem,
    logger,
  });
}

async function registered(
  pebble: PebbleHandle,
  type: KeyType = 'ecdsa-p256',
  logger?: Logger,
): Promise<AcmeClient> {
  const c = await client(pebble, generateKey(type).privateKey, undefined, logger);
  await c.newAccount({ contact: ['admin@example.com'], termsOfServiceAgreed: true });
  return c;
}

/** The whole dns-01 flow: TXT records via challtestsrv, validate, finalize, download. */
async function issue(
  c: AcmeClient,
  dns: ChallTestSrvHandle,
  names: string[],
  preferredChain?: string,
): Promise<{ order: AcmeOrder; pem: string; chains: string[]; chosen: string }> {
  const order = await c.newOrder({ identifiers: names });
  const published: string[] = [];
  try {
    for (const url of order.authorizations) {
      const authz = await c.getAuthorization(url);
      if (authz.status === 'valid') continue;
      const ch = c.dns01(authz);
      await dns.addTxt(ch.recordName, ch.txtValue);
      published.push(ch.recordName);
      await c.respondChallenge(ch.challenge.url);
    }
    for (const url of order.authorizations) await c.pollAuthorization(url, { deadline: deadline() });
    await c.pollOrder(order.url, { until: 'ready', deadline: deadline() });
    const certKey = generateKey('ecdsa-p256').privateKey;
    await c.finalize(order, await createCsr(certKey, names));
    const valid = await c.pollOrder(order.url, { until: 'valid', deadline: deadline() });
    const cert = await c.downloadCertificate(valid, { preferredChain });
    return { order: valid, ...cert };
  } finally {
    for (const name of new Set(published)) await dns.clearTxt(name);
  }
}

function sans(pem: string): string[] {
  const leaf = new X509Certificate(splitPemChain(pem)[0] as string);
  return (leaf.subjectAltName ?? '').split(', ').map((s) => s.replace(/^DNS:/, ''));
}

function subjectCn(pem: string): string {
  return new X509Certificate(pem).subject.replace(/^.*CN=/s, '');
}

function isProblem(type: string) {
  return (err: unknown) => {
    assert.ok(err instanceof AcmeProblem, `expected AcmeProblem, got ${String(err)}`);
    assert.equal(err.shortType, type, err.message);
    return true;
  };
}

describe('AcmeClient against Pebble', () => {
  let dns: ChallTestSrvHandle;
  let pebble: PebbleHandle;
  let acme: AcmeClient;

  before(async () => {
    dns = await startChallTestSrv();
    pebble = await startPebble({
      dnsServer: dns.dnsServer,
      alternateRoots: 1,
      blockedDomains: ['blocked.example'],
    });
    acme = await registered(pebble);
  });
  after(async () => {
    await acme?.close();
    await pebble?.stop();
    await dns?.stop();
  });

  test('directory: cached, exposes meta and no renewalInfo on Pebble 2.4', async () => {
    const dir = await acme.directory();
    assert.equal(await acme.directory(), dir);
    assert.equal(typeof dir.meta?.termsOfService, 'string');
    assert.equal(dir.meta?.externalAccountRequired, false);
    assert.equal(dir.renewalInfo, undefined);
    assert.equal(await acme.renewalInfo(await pebble.rootPem(0)), null);
  });

  test('register, then onlyReturnExisting finds the same account', async () => {
    const key = generateKey('ecdsa-p384').privateKey;
    const first = await client(pebble, key);
    const created = await first.newAccount({
      contact: ['mailto:ops@example.com'],
      termsOfServiceAgreed: true,
    });
    assert.equal(created.created, true);
    assert.equal(created.account.status, 'valid');
    assert.deepEqual(created.account.contact, ['mailto:ops@example.com']);
    assert.equal(first.accountUrl, created.url);

    const again = await client(pebble, key);
    const found = await again.newAccount({ onlyReturnExisting: true });
    assert.equal(found.url, created.url);
    assert.equal(found.created, false);

    const stranger = await client(pebble, generateKey('rsa-2048').privateKey);
    await assert.rejects(stranger.newAccount({ onlyReturnExisting: true }), isProblem('accountDoesNotExist'));
    await Promise.all([first.close(), again.close(), stranger.close()]);
  });

  test('order one name: issue, chain verifies against Pebble root', async () => {
    const before = pebble.countOrders();
    const { pem, order } = await issue(acme, dns, ['one.example.com']);
    assert.equal(order.status, 'valid');
    assert.deepEqual(sans(pem), ['one.example.com']);
    assert.equal(pebble.countOrders(), before + 1);
    const [leaf, intermediate] = splitPemChain(pem).map((c) => new X509Certificate(c));
    assert.ok(leaf && intermediate && leaf.verify(intermediate.publicKey));
    const root = new X509Certificate(await pebble.rootPem(0));
    assert.ok(intermediate.verify(root.publicKey));
  });

  test('wildcard + apex: two TXT values at one name, RSA account key', async () => {
    const rsa = await registered(pebble, 'rsa-2048');
    const order = await rsa.newOrder({ identifiers: ['*.wild.example.com', 'wild.example.com'] });
    const records = await Promise.all(
      order.authorizations.map(async (u) => rsa.dns01(await rsa.getAuthorization(u))),
    );
    assert.deepEqual(
      records.map((r) => r.recordName),
      ['_acme-challenge.wild.example.com', '_acme-challenge.wild.example.com'],
    );
    assert.notEqual(records[0]?.txtValue, records[1]?.txtValue);
    const { pem } = await issue(rsa, dns, ['*.wild.example.com', 'wild.example.com']);
    assert.deepEqual(sans(pem).sort(), ['*.wild.example.com', 'wild.example.com']);
    await rsa.close();
  });

  test('alternate chains: all returned, preferred chain chosen by issuer CN', async () => {
    const root0 = subjectCn(await pebble.rootPem(0));
    const root1 = subjectCn(await pebble.rootPem(1));
    const byDefault = await issue(acme, dns, ['chains.example.com']);
    assert.equal(byDefault.chains.length, 2);
    assert.equal(byDefault.chosen, root0);
    assert.equal(byDefault.pem, byDefault.chains[0]);

    const preferred = await issue(acme, dns, ['chains.example.com'], root1);
    assert.equal(preferred.chosen, root1);
    assert.equal(preferred.pem, preferred.chains[1]);

    const unknown = await issue(acme, dns, ['chains.example.com'], 'No Such Root');
    assert.equal(unknown.chosen, root0);
  });

  test('revoke, then revoking again is alreadyRevoked', async () => {
    const { pem } = await issue(acme, dns, ['revoke.example.com']);
    const leaf = new X509Certificate(splitPemChain(pem)[0] as string);
    await acme.revoke(leaf.raw, 4);
    await assert.rejects(acme.revoke(leaf.raw), isProblem('alreadyRevoked'));
  });

  test('failed dns-01 validation is an AcmeProblem from the challenge error', async () => {
    const order = await acme.newOrder({ identifiers: ['nodns.example.com'] });
    const authzUrl = order.authorizations[0] as string;
    const ch = acme.dns01(await acme.getAuthorization(authzUrl));
    await acme.respondChallenge(ch.challenge.url);
    await assert.rejects(acme.pollAuthorization(authzUrl, { deadline: deadline() }), (err: unknown) => {
      assert.ok(err instanceof AcmeProblem);
      assert.match(err.message, /^CA refused dns-01 validation for nodns\.example\.com: \w+: /);
      return true;
    });
    await assert.rejects(acme.pollOrder(order.url, { until: 'ready', deadline: deadline() }), AcmeProblem);
  });

  test('CA refusal: blocked identifier is rejectedIdentifier with detail', async () => {
    await assert.rejects(acme.newOrder({ identifiers: ['www.blocked.example'] }), (err: unknown) => {
      assert.ok(err instanceof AcmeProblem);
      assert.equal(err.type, 'urn:ietf:params:acme:error:rejectedIdentifier');
      assert.equal(err.shortType, 'rejectedIdentifier');
      assert.equal(err.status, 400);
      assert.ok(err.detail.length > 0);
      assert.equal(err.kind, 'operation');
      assert.equal(err.message, `CA refused new order: rejectedIdentifier: ${err.detail}`);
      return true;
    });
  });

  test('invalid names and unknown profiles are rejected before any request', async () => {
    const before = pebble.countOrders();
    await assert.rejects(acme.newOrder({ identifiers: ['bad name.example.com'] }), (e: unknown) => {
      return e instanceof CertvaultError && e.kind === 'config' && !(e instanceof AcmeProblem);
    });
    await assert.rejects(
      acme.newOrder({ identifiers: ['x.example.com'], profile: 'tlsserver' }),
      /lists no certificate profiles/,
    );
    assert.equal(pebble.countOrders(), before);
  });

  test('key rollover: new key works, old key no longer finds the account', async () => {
    const oldKey = generateKey('ecdsa-p256').privateKey;
    const c = await client(pebble, oldKey);
    const { url } = await c.newAccount({ termsOfServiceAgreed: true });
    const oldThumbprint = c.thumbprint;
    const newKey = generateKey('ecdsa-p384').privateKey;
    await c.accountKeyRollover(newKey);
    assert.notEqual(c.thumbprint, oldThumbprint);
    const { pem } = await issue(c, dns, ['rollover.example.com']);
    assert.deepEqual(sans(pem), ['rollover.example.com']);

    const withNew = await client(pebble, newKey);
    assert.equal((await withNew.newAccount({ onlyReturnExisting: true })).url, url);
    const withOld = await client(pebble, oldKey);
    await assert.rejects(withOld.newAccount({ onlyReturnExisting: true }), isProblem('accountDoesNotExist'));
    await Promise.all([c.close(), withNew.close(), withOld.close()]);
  });

  test('deactivation: account becomes deactivated and is refused afterwards', async () => {
    const c = await registered(pebble);
    const account = await c.deactivateAccount();
    assert.equal(account.status, 'deactivated');
    await assert.rejects(c.newOrder({ identifiers: ['gone.example.com'] }), isProblem('unauthorized'));
    await c.close();
  });

  test('a known account URL can be passed instead of registering', async () => {
    const key = generateKey().privateKey;
    const first = await client(pebble, key);
    const { url } = await first.newAccount({ termsOfServiceAgreed: true });
    const second = await client(pebble, key, url);
    const order = await second.newOrder({ identifiers: ['known.example.com'] });
    assert.equal(order.status, 'pending');
    const noAccount = await client(pebble, generateKey().privateKey);
    await assert.rejects(noAccount.newOrder({ identifiers: ['x.example.com'] }), /no ACME account URL known/);
    await Promise.all([first.close(), second.close(), noAccount.close()]);
  });
});

describe('Pebble rejecting 30% of nonces', () => {
  let dns: ChallTestSrvHandle;
  let pebble: PebbleHandle;
  before(async () => {
    dns = await startChallTestSrv();
    pebble = await startPebble({ dnsServer: dns.dnsServer, nonceReject: 30 });
  });
  after(async () => {
    await pebble?.stop();
    await dns?.stop();
  });

  test('full issuance still succeeds (badNonce retried)', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
    for (let i = 0; i < 2; i++) {
      const c = await registered(pebble, 'ecdsa-p256', logger);
      const { pem } = await issue(c, dns, [`nonce${i}.example.com`, `*.nonce${i}.example.com`]);
      assert.equal(sans(pem).length, 2);
      await c.close();
    }
    // ~30 signed requests at 30% rejection: retries must have happened (P(none) is about 1e-5).
    const retries = lines.filter((l) => l.includes('badNonce')).length;
    assert.ok(retries > 0, 'expected at least one badNonce retry');
    // Logs carry URLs and counts only, never JWS bodies or keys.
    assert.ok(lines.every((l) => !l.includes('"protected"') && !l.includes('"signature"')));
  });
});

describe('Pebble requiring external account binding', () => {
  let dns: ChallTestSrvHandle;
  let pebble: PebbleHandle;
  before(async () => {
    dns = await startChallTestSrv();
    pebble = await startPebble({ dnsServer: dns.dnsServer, eab: true });
  });
  after(async () => {
    await pebble?.stop();
    await dns?.stop();
  });

  test('EAB: required by directory, HS256 binding accepted, wrong key refused', async () => {
    const eab = pebble.eabKeys[0];
    assert.ok(eab);
    const c = await client(pebble, generateKey().privateKey);
    assert.equal((await c.directory()).meta?.externalAccountRequired, true);
    await assert.rejects(c.newAccount({ termsOfServiceAgreed: true }), /requires external account binding/);

    const wrong = { kid: eab.kid, hmacKey: Buffer.alloc(32, 7).toString('base64url') };
    await assert.rejects(c.newAccount({ termsOfServiceAgreed: true, eab: wrong }), (err: unknown) => {
      assert.ok(err instanceof AcmeProblem);
      assert.ok(!err.message.includes(wrong.hmacKey));
      return true;
    });

    const res = await c.newAccount({ termsOfServiceAgreed: true, eab });
    assert.equal(res.created, true);
    const { pem } = await issue(c, dns, ['eab.example.com']);
    assert.deepEqual(sans(pem), ['eab.example.com']);
    await c.close();
  });
});
