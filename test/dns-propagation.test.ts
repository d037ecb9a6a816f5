import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CertvaultError } from '../src/errors.js';
import type { HostPort } from '../src/dns/hostport.js';
import { createDnsProvider, type DnsProvider } from '../src/dns/provider.js';
import { waitForPropagation, type PropagationProgress } from '../src/dns/propagation.js';
import { findZone, resolveChallengeTarget, systemResolvers } from '../src/dns/query.js';
import { startBind, type BindServer } from './support/bind.js';

let bind: BindServer;
let server: HostPort;
let provider: DnsProvider;
before(async () => {
  bind = await startBind();
  server = { host: '127.0.0.1', port: bind.port };
  provider = createDnsProvider('rfc2136', {
    server: `127.0.0.1:${bind.port}`,
    'tsig-key': bind.keys.sha256.name,
    'tsig-secret': bind.keys.sha256.secret,
  });
});
after(async () => {
  await bind?.stop();
});

const challengeName = () => `_acme-challenge.${bind.unique()}.${bind.zones.example}`;

describe('waitForPropagation', () => {
  it('returns after one round when every server already has the values', async () => {
    const name = challengeName();
    await provider.present(name, ['a1', 'a2']);
    const started = Date.now();
    const res = await waitForPropagation({ fqdn: name, values: ['a1', 'a2'], servers: [server] });
    assert.equal(res.rounds, 1);
    assert.equal(res.name, name);
    assert.ok(Date.now() - started < 500);
  });

  it('keeps polling until a late value shows up', async () => {
    const name = challengeName();
    const progress: PropagationProgress[] = [];
    const late = setTimeout(() => void provider.present(name, ['late']), 300);
    try {
      const res = await waitForPropagation({
        fqdn: name,
        values: ['late'],
        servers: [server],
        intervalMs: 50,
        timeoutMs: 5000,
        onProgress: (p) => progress.push(p),
      });
      assert.ok(res.rounds > 2);
      assert.match(
        progress[0]!.pending[0]!,
        new RegExp(`127\\.0\\.0\\.1:${bind.port} \\(1 of 1 values missing\\)`),
      );
    } finally {
      clearTimeout(late);
    }
  });

  it('needs every value, not just one', async () => {
    const name = challengeName();
    await provider.present(name, ['only-one']);
    await assert.rejects(
      waitForPropagation({
        fqdn: name,
        values: ['only-one', 'other'],
        servers: [server],
        timeoutMs: 300,
        intervalMs: 50,
      }),
      /1 of 2 values missing/,
    );
  });

  it('times out naming the server that lacked the value', async () => {
    const name = challengeName();
    const started = Date.now();
    await assert.rejects(
      waitForPropagation({
        fqdn: name,
        values: ['never'],
        servers: [server],
        timeoutMs: 400,
        intervalMs: 100,
      }),
      (err: CertvaultError) => {
        assert.equal(err.exitCode, 1);
        assert.ok(
          err.message.includes(`TXT record at ${name} not visible after 0.4 s on 127.0.0.1:${bind.port}`),
          err.message,
        );
        return true;
      },
    );
    assert.ok(Date.now() - started < 1500);
  });

  it('names an unreachable server as lacking the value', async () => {
    const dead = { host: '127.0.0.1', port: 9 };
    await assert.rejects(
      waitForPropagation({
        fqdn: challengeName(),
        values: ['x'],
        servers: [server, dead],
        timeoutMs: 600,
        intervalMs: 100,
        queryTimeoutMs: 100,
      }),
      /127\.0\.0\.1:9 \(no answer/,
    );
  });

  it('follows the CNAME of a delegated challenge name', async () => {
    const target = await resolveChallengeTarget(bind.cname.name, [server]);
    assert.equal(target, bind.cname.target);
    const value = `delegated-${bind.unique()}`;
    await provider.present(target, [value]);
    try {
      const res = await waitForPropagation({ fqdn: bind.cname.name, values: [value], servers: [server] });
      assert.equal(res.name, bind.cname.target);
    } finally {
      await provider.cleanup(target, [value]);
    }
  });

  it('finds the authoritative servers itself (zone, NS, addresses)', async () => {
    const name = challengeName();
    await provider.present(name, ['via-ns']);
    const res = await waitForPropagation({
      fqdn: name,
      values: ['via-ns'],
      resolvers: [server],
      authoritativePort: bind.port,
    });
    assert.deepEqual(res.servers, [server]);
    await assert.rejects(
      waitForPropagation({
        fqdn: name,
        values: ['missing'],
        resolvers: [server],
        authoritativePort: bind.port,
        timeoutMs: 300,
        intervalMs: 100,
      }),
      new RegExp(`on ns1\\.example\\.test \\(127\\.0\\.0\\.1:${bind.port}\\)`),
    );
  });

  it('says when it could not even find the servers to ask', async () => {
    await assert.rejects(
      waitForPropagation({
        fqdn: 'x.other.test',
        values: ['x'],
        resolvers: [server],
        timeoutMs: 200,
        intervalMs: 50,
      }),
      /could not find the servers to check the TXT record at x\.other\.test within 0\.2 s \(cannot find the DNS zone/,
    );
  });

  it('stops when aborted', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('stop now')), 150);
    await assert.rejects(
      waitForPropagation({
        fqdn: challengeName(),
        values: ['x'],
        servers: [server],
        intervalMs: 50,
        signal: ac.signal,
      }),
      /stop now/,
    );
  });
});

describe('zone and CNAME look-ups', () => {
  it('findZone uses the SOA owner of NXDOMAIN/NODATA answers', async () => {
    assert.equal(await findZone(challengeName(), [server]), 'example.test');
    assert.equal(
      await findZone(`a.b.c.${bind.zones.delegate}`, [server], { rd: false }),
      'acme-delegate.test',
    );
    assert.equal(await findZone(bind.zones.example, [server]), 'example.test');
    // A CNAME at the name: the zone is the one holding the CNAME, not its target.
    assert.equal(await findZone(bind.cname.name, [server]), 'example.test');
    await assert.rejects(findZone('x.other.test', [server]), /cannot find the DNS zone of x\.other\.test/);
  });

  it('resolveChallengeTarget keeps names without a CNAME', async () => {
    const name = challengeName();
    assert.equal(await resolveChallengeTarget(`${name}.`, [server]), name);
  });

  it('systemResolvers reads nameserver lines', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'resolv-'));
    try {
      const file = join(dir, 'resolv.conf');
      await writeFile(
        file,
        '# comment\nnameserver 127.0.0.53\nnameserver ::1\nnameserver fe80::1%eth0\nsearch x\n',
      );
      assert.deepEqual(await systemResolvers(file), [
        { host: '127.0.0.53', port: 53 },
        { host: '::1', port: 53 },
        { host: 'fe80::1', port: 53 },
      ]);
      await writeFile(file, 'search x\n');
      await assert.rejects(systemResolvers(file), /no nameserver found/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
