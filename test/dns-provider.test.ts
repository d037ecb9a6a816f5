import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CertvaultError } from '../src/errors.js';
import { formatHostPort, parseHostPort } from '../src/dns/hostport.js';
import { KeyedMutex } from '../src/dns/mutex.js';
import { normalizeName } from '../src/dns/names.js';
import { createDnsProvider, providerSpecs, providerTypes, redactSettings } from '../src/dns/provider.js';

const SECRET = 'c2VjcmV0LXNlY3JldC1zZWNyZXQ=';
const rfc = { server: '192.0.2.1', 'tsig-key': 'acme', 'tsig-secret': SECRET };

function configErr(fn: () => unknown, pattern: RegExp): CertvaultError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof CertvaultError, 'throws a CertvaultError');
  assert.equal(caught.exitCode, 2);
  assert.match(caught.line, pattern);
  assert.ok(!caught.line.includes('\n'));
  return caught;
}

describe('createDnsProvider', () => {
  it('builds each known provider from valid settings', () => {
    assert.deepEqual(providerTypes, ['rfc2136', 'dnsimple', 'exec']);
    const p = createDnsProvider('rfc2136', {
      ...rfc,
      server: '[2001:db8::1]:5353',
      zone: 'example.com.',
      ttl: '30',
    });
    assert.equal(p.type, 'rfc2136');
    assert.deepEqual(p.defaultCheckServers?.(), [{ host: '2001:db8::1', port: 5353 }]);
    assert.equal(createDnsProvider('dnsimple', { token: 't', account: '42' }).type, 'dnsimple');
    assert.equal(createDnsProvider('exec', { add: 'a', remove: 'b' }).type, 'exec');
  });

  it('unknown type lists the known ones', () => {
    configErr(
      () => createDnsProvider('route66', {}),
      /unknown DNS provider type "route66"; known types: rfc2136, dnsimple, exec/,
    );
  });

  it('names a missing key and says what it is', () => {
    configErr(
      () => createDnsProvider('rfc2136', { server: '192.0.2.1', 'tsig-key': 'k' }),
      /rfc2136 setting "tsig-secret" is required; tsig-secret: TSIG secret, base64/,
    );
    configErr(() => createDnsProvider('dnsimple', { account: '1' }), /dnsimple setting "token" is required/);
    configErr(() => createDnsProvider('exec', { add: 'x' }), /exec setting "remove" is required/);
  });

  it('names an unknown key and lists the known ones', () => {
    configErr(
      () => createDnsProvider('rfc2136', { ...rfc, secret: 'x' }),
      /unknown rfc2136 setting "secret"; known settings: server, tsig-key, tsig-secret, tsig-algorithm, zone, ttl, transport/,
    );
  });

  it('explains bad values without echoing them', () => {
    const err = configErr(
      () => createDnsProvider('rfc2136', { ...rfc, 'tsig-secret': 'not base64!!' }),
      /"tsig-secret" must be base64/,
    );
    assert.ok(!err.line.includes('not base64!!'));
    configErr(
      () => createDnsProvider('rfc2136', { ...rfc, server: 'a:b:c' }),
      /"server" must be HOST or HOST:PORT/,
    );
    configErr(
      () => createDnsProvider('rfc2136', { ...rfc, server: 'ns1:99999' }),
      /"server" must be HOST or HOST:PORT/,
    );
    configErr(
      () => createDnsProvider('rfc2136', { ...rfc, 'tsig-algorithm': 'hmac-md5' }),
      /"tsig-algorithm" must be one of hmac-sha256, hmac-sha384, hmac-sha512/,
    );
    configErr(
      () => createDnsProvider('rfc2136', { ...rfc, ttl: '0' }),
      /"ttl" must be a whole number from 1 to 86400/,
    );
    configErr(
      () => createDnsProvider('rfc2136', { ...rfc, zone: 'bad zone' }),
      /"zone" must be a DNS zone name/,
    );
    configErr(
      () => createDnsProvider('rfc2136', { ...rfc, transport: 'quic' }),
      /"transport" must be udp or tcp/,
    );
    configErr(
      () => createDnsProvider('dnsimple', { token: 't', account: 'acme' }),
      /"account" must be the numeric account id/,
    );
    configErr(
      () => createDnsProvider('dnsimple', { token: 't', account: '1', 'base-url': 'ftp://x' }),
      /"base-url" must be an http\(s\) URL/,
    );
    configErr(() => createDnsProvider('exec', { add: '', remove: 'x' }), /"add" must not be empty/);
  });

  it('specs describe every key and mark the secrets', () => {
    const secrets = Object.fromEntries(
      Object.entries(providerSpecs).map(([t, s]) => [t, s.keys.filter((k) => k.secret).map((k) => k.name)]),
    );
    assert.deepEqual(secrets, { rfc2136: ['tsig-secret'], dnsimple: ['token'], exec: [] });
    for (const spec of Object.values(providerSpecs)) {
      assert.ok(spec.description.length > 0);
      for (const k of spec.keys) assert.ok(k.description.length > 0, k.name);
    }
    assert.deepEqual(redactSettings('rfc2136', rfc), { ...rfc, 'tsig-secret': '[redacted]' });
  });
});

describe('helpers', () => {
  it('parseHostPort', () => {
    assert.deepEqual(parseHostPort('192.0.2.1'), { host: '192.0.2.1', port: 53 });
    assert.deepEqual(parseHostPort('ns1.example.com:5353'), { host: 'ns1.example.com', port: 5353 });
    assert.deepEqual(parseHostPort('[::1]:53'), { host: '::1', port: 53 });
    assert.deepEqual(parseHostPort('[2001:db8::1]'), { host: '2001:db8::1', port: 53 });
    assert.deepEqual(parseHostPort('2001:db8::1'), { host: '2001:db8::1', port: 53 });
    assert.equal(formatHostPort({ host: '::1', port: 53 }), '[::1]:53');
    for (const bad of ['', ':53', 'host:', 'host:x', 'host:0', '[::1', '[1.2.3.4]:53', 'a b', 'h:70000']) {
      assert.throws(
        () => parseHostPort(bad),
        (e: CertvaultError) => e.exitCode === 2 && /invalid server/.test(e.message),
        bad,
      );
    }
  });

  it('normalizeName', () => {
    assert.equal(normalizeName('_ACME-Challenge.Example.COM.'), '_acme-challenge.example.com');
    assert.equal(normalizeName('_acme-challenge.bücher.de'), '_acme-challenge.xn--bcher-kva.de');
    for (const bad of ['a..b', 'a b.c', `${'x'.repeat(64)}.com`])
      assert.throws(() => normalizeName(bad), /invalid DNS name/);
  });

  it('KeyedMutex runs work for one key one at a time', async () => {
    const m = new KeyedMutex();
    const order: string[] = [];
    const job = (key: string, id: string, ms: number) =>
      m.run(key, async () => {
        order.push(`${id}+`);
        await new Promise((r) => setTimeout(r, ms));
        order.push(`${id}-`);
      });
    await Promise.all([job('a', 'a1', 30), job('a', 'a2', 1), job('b', 'b1', 5)]);
    assert.deepEqual(
      order.filter((o) => o.startsWith('a')),
      ['a1+', 'a1-', 'a2+', 'a2-'],
    );
    assert.ok(order.indexOf('b1-') < order.indexOf('a1-'), 'other keys run in parallel');
  });
});
