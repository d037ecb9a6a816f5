import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { CertvaultError } from '../src/errors.js';
import { createDnsProvider } from '../src/dns/provider.js';
import { sendUpdate } from '../src/dns/rfc2136.js';
import { exchange } from '../src/dns/transport.js';
import { signRequest, verifyResponse, type TsigKey } from '../src/dns/tsig.js';
import { addTxt, buildUpdate } from '../src/dns/update.js';
import { query, txtValues } from '../src/dns/query.js';
import { startBind, type BindKey, type BindServer } from './support/bind.js';

let bind: BindServer;
before(async () => {
  bind = await startBind();
});
after(async () => {
  await bind?.stop();
});

const settings = (key: BindKey, extra: Record<string, string> = {}) => ({
  server: `127.0.0.1:${bind.port}`,
  'tsig-key': key.name,
  'tsig-secret': key.secret,
  'tsig-algorithm': key.algorithm,
  ...extra,
});
const tsigKey = (k: BindKey): TsigKey => ({
  name: k.name,
  algorithm: k.algorithm,
  secret: Buffer.from(k.secret, 'base64'),
});
const challengeName = () => `_acme-challenge.${bind.unique()}.${bind.zones.example}`;
const dig = (name: string): string[] =>
  execFileSync('dig', ['+short', '+norec', '-p', String(bind.port), '@127.0.0.1', 'TXT', name], {
    encoding: 'utf8',
  })
    .split('\n')
    .filter(Boolean)
    .map((l) => l.replace(/^"|"$/g, ''))
    .sort();

/** Captures the provider's log lines (to see the transport used). */
function capture() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'info' },
    { write: (s: string) => lines.push(JSON.parse(s) as Record<string, unknown>) },
  );
  return { logger, lines };
}

/** A UDP relay in front of BIND that counts the messages it forwards. */
async function relay(): Promise<{ port: number; count: () => number; close: () => void }> {
  const front: Socket = createSocket('udp4');
  let n = 0;
  front.on('message', (msg, client) => {
    n++;
    const back = createSocket('udp4');
    back.on('message', (reply) => {
      front.send(reply, client.port, client.address);
      back.close();
    });
    back.send(msg, bind.port, '127.0.0.1');
  });
  await new Promise<void>((r) => front.bind(0, '127.0.0.1', () => r()));
  return { port: front.address().port, count: () => n, close: () => front.close() };
}

describe('rfc2136 provider against BIND', () => {
  it('adds two values at one name in one UPDATE, removes one, keeps the other', async () => {
    const r = await relay();
    try {
      const provider = createDnsProvider('rfc2136', {
        ...settings(bind.keys.sha256),
        server: `127.0.0.1:${r.port}`,
        zone: 'example.test',
      });
      const name = challengeName();
      await provider.present(name, ['wildcard-AAAA', 'apex-BBBB']);
      assert.equal(r.count(), 1, 'both values travel in one message');
      assert.deepEqual(dig(name), ['apex-BBBB', 'wildcard-AAAA']);
      await provider.cleanup(name, ['wildcard-AAAA']);
      assert.deepEqual(dig(name), ['apex-BBBB']);
      assert.deepEqual(await bind.txt(name), ['apex-BBBB']);
    } finally {
      r.close();
    }
  });

  it('is idempotent: re-adding and re-removing change nothing', async () => {
    const provider = createDnsProvider('rfc2136', settings(bind.keys.sha256));
    const name = challengeName();
    await provider.present(name, ['v1', 'v2']);
    await provider.present(name, ['v2', 'v1', 'v1']);
    assert.deepEqual((await bind.txt(name)).sort(), ['v1', 'v2']);
    await provider.cleanup(name, ['v1']);
    await provider.cleanup(name, ['v1', 'never-there']);
    assert.deepEqual(await bind.txt(name), ['v2']);
    await provider.cleanup(name, ['v2']);
    assert.deepEqual(await bind.txt(name), []);
  });

  it('signs with hmac-sha512 over TCP', async () => {
    const { logger, lines } = capture();
    const provider = createDnsProvider('rfc2136', settings(bind.keys.sha512, { transport: 'tcp' }), {
      logger,
    });
    const name = challengeName();
    await provider.present(name, ['sha512-value']);
    assert.deepEqual(await bind.txt(name), ['sha512-value']);
    assert.equal(lines.at(-1)?.via, 'tcp');
  });

  it('writes values longer than 255 bytes as several strings', async () => {
    const provider = createDnsProvider('rfc2136', settings(bind.keys.sha256));
    const name = challengeName();
    const long = 'x'.repeat(300);
    await provider.present(name, [long]);
    assert.deepEqual(await bind.txt(name), [long]);
  });

  it('falls back to TCP when a UDP answer is truncated', async () => {
    const provider = createDnsProvider('rfc2136', settings(bind.keys.sha256));
    const name = challengeName();
    const values = Array.from({ length: 12 }, (_, i) => `${i}-${'y'.repeat(200)}`);
    await provider.present(name, values);
    const res = await query({ host: '127.0.0.1', port: bind.port }, name, 'TXT', { rd: false });
    assert.equal(txtValues(res, name).length, 12);
  });

  it('finds the zone by asking the server (SOA, RD=0, authoritative answers only)', async () => {
    const provider = createDnsProvider('rfc2136', settings(bind.keys.sha256));
    const name = `_acme-challenge.${bind.unique()}.deep.${bind.zones.delegate}`;
    await provider.present(name, ['found-zone']);
    assert.deepEqual(await bind.txt(name), ['found-zone']);
    await assert.rejects(
      provider.present(`_acme-challenge.${bind.unique()}.other.test`, ['x']),
      (err: CertvaultError) => {
        assert.match(err.line, /cannot find the DNS zone of _acme-challenge\.t\w+\.other\.test.*set zone=/);
        return true;
      },
    );
  });

  it('rejects a name outside the configured zone before sending', async () => {
    const provider = createDnsProvider('rfc2136', settings(bind.keys.sha256, { zone: bind.zones.delegate }));
    await assert.rejects(
      provider.present(challengeName(), ['x']),
      (err: CertvaultError) => err.exitCode === 2 && /not in zone/.test(err.message),
    );
  });

  it('wrong secret: one clear line naming key and server, never the secret', async () => {
    const wrong = { ...settings(bind.keys.sha256), 'tsig-secret': bind.keys.sha512.secret };
    const provider = createDnsProvider('rfc2136', wrong);
    await assert.rejects(provider.present(challengeName(), ['x']), (err: CertvaultError) => {
      assert.ok(err instanceof CertvaultError);
      assert.match(
        err.line,
        new RegExp(
          `server 127\\.0\\.0\\.1:${bind.port} rejected TSIG key certvault-sha256 \\(wrong secret or key name\\)`,
        ),
      );
      assert.ok(!err.line.includes(bind.keys.sha512.secret) && !err.line.includes(bind.keys.sha256.secret));
      assert.ok(!err.line.includes('\n'));
      assert.equal(err.exitCode, 1);
      return true;
    });
  });

  it('unknown key name: same clear error', async () => {
    const provider = createDnsProvider('rfc2136', {
      ...settings(bind.keys.sha256),
      'tsig-key': 'no-such-key',
    });
    await assert.rejects(provider.present(challengeName(), ['x']), /rejected TSIG key no-such-key/);
  });

  it('REFUSED by update-policy: hint shows the grant to add', async () => {
    const provider = createDnsProvider('rfc2136', settings(bind.keys.sha256));
    const name = `_acme-challenge.${bind.unique()}.${bind.lockedName}`;
    await assert.rejects(provider.present(name, ['x']), (err: CertvaultError) => {
      assert.match(err.line, /answered REFUSED/);
      assert.ok(err.line.includes(`update-policy { grant certvault-sha256 name ${name}. TXT; }`));
      return true;
    });
  });

  it('NOTAUTH and NOTZONE come with a zone hint', async () => {
    const server = { host: '127.0.0.1', port: bind.port };
    const key = tsigKey(bind.keys.sha256);
    const name = challengeName();
    const line = async (p: Promise<unknown>) =>
      (
        (await p.then(
          () => assert.fail('no error'),
          (e: CertvaultError) => e,
        )) as CertvaultError
      ).line;
    assert.match(
      await line(sendUpdate(server, `sub.${bind.zones.example}`, [addTxt(name, 'x', 60)], key)),
      /NOTAUTH.*not the primary for zone/,
    );
    assert.match(
      await line(sendUpdate(server, bind.zones.delegate, [addTxt(name, 'x', 60)], key)),
      /NOTZONE.*outside zone/,
    );
  });

  it('BADTIME reports the server clock', async () => {
    const server = { host: '127.0.0.1', port: bind.port };
    const skewed = () => Math.floor(Date.now() / 1000) + 3600;
    await assert.rejects(
      sendUpdate(server, bind.zones.example, [addTxt(challengeName(), 'x', 60)], tsigKey(bind.keys.sha256), {
        now: skewed,
      }),
      (err: CertvaultError) => {
        const year = String(new Date().getUTCFullYear());
        assert.match(err.line, /BADTIME\): server clock \d{4}-.*NTP/);
        assert.ok(err.line.includes(year));
        return true;
      },
    );
  });
});

describe('TSIG response verification (recorded BIND response)', () => {
  let response: Buffer;
  let requestMac: Buffer;
  const key = () => tsigKey(bind.keys.sha256);

  before(async () => {
    const msg = buildUpdate(randomInt(0x10000), bind.zones.example, [
      addTxt(challengeName(), 'recorded', 60),
    ]);
    const signed = signRequest(msg, key());
    requestMac = signed.mac;
    response = (await exchange({ host: '127.0.0.1', port: bind.port }, signed.message)).response;
  });

  it('accepts the genuine response', () => {
    const v = verifyResponse(response, requestMac, key());
    assert.equal(v.signed, true);
    assert.equal(v.error, 0);
  });

  it('rejects a response with one byte changed', () => {
    for (const offset of [3, 15, 22, response.length - 3]) {
      const tampered = Buffer.from(response);
      tampered[offset]! ^= 0x01;
      assert.throws(() => verifyResponse(tampered, requestMac, key()), /MAC does not verify/);
    }
  });

  it('rejects a malformed response', () => {
    assert.throws(
      () => verifyResponse(response.subarray(0, response.length - 5), requestMac, key()),
      /malformed response/,
    );
    const badLabel = Buffer.from(response);
    badLabel[12] = 0x3f;
    assert.throws(() => verifyResponse(badLabel, requestMac, key()), /malformed response/);
  });

  it('rejects a response bound to another request, another key, or out of time', () => {
    const otherMac = Buffer.from(requestMac);
    otherMac[0]! ^= 0xff;
    assert.throws(() => verifyResponse(response, otherMac, key()), /MAC does not verify/);
    assert.throws(
      () => verifyResponse(response, requestMac, { ...key(), secret: Buffer.alloc(32, 1) }),
      /MAC does not verify/,
    );
    assert.throws(
      () => verifyResponse(response, requestMac, { ...key(), name: 'other-key' }),
      /signed with key/,
    );
    assert.throws(
      () => verifyResponse(response, requestMac, key(), { now: Math.floor(Date.now() / 1000) + 1000 }),
      /more than 300 s/,
    );
  });
});
