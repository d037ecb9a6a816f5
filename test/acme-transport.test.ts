// Transport, retry, polling and error behaviour against a scriptable local ACME double (plain HTTP).
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_BAD_NONCE_RETRIES } from '../src/acme/wait.js';
import { AcmeClient, AcmeProblem } from '../src/acme/index.js';
import { parseLinks, parseRetryAfter } from '../src/acme/headers.js';
import { CertvaultError } from '../src/errors.js';
import { generateKey } from '../src/pki/keys.js';
import {
  startAcmeDouble,
  type AcmeDouble,
  type DoubleReply,
  type DoubleRequest,
} from './support/ari-double.js';

const P = 'urn:ietf:params:acme:error:';
let double: AcmeDouble | undefined;
let client: AcmeClient | undefined;

afterEach(async () => {
  await client?.close();
  await double?.stop();
  client = undefined;
  double = undefined;
});

type Route = (req: DoubleRequest) => DoubleReply | undefined;

/** A double with newAccount, plus `route` for everything else; returns a registered client. */
async function setup(route: Route, opts: { profiles?: Record<string, string>; timeoutMs?: number } = {}) {
  const d = await startAcmeDouble({
    ...(opts.profiles ? { profiles: opts.profiles } : {}),
    handler: (req) => {
      if (req.path === '/new-account') {
        return { status: 201, headers: { location: `${d.base}/acct/1` }, json: { status: 'valid' } };
      }
      return route(req);
    },
  });
  double = d;
  const c = await AcmeClient.create({
    directoryUrl: d.directoryUrl,
    accountKey: generateKey().privateKey,
    timeoutMs: opts.timeoutMs,
  });
  client = c;
  await c.newAccount({ termsOfServiceAgreed: true });
  return { d, c };
}

const order = (base: string, status: string, extra: object = {}) => ({
  status,
  identifiers: [{ type: 'dns', value: 'a.example' }],
  authorizations: [`${base}/authz/1`],
  finalize: `${base}/order/1/finalize`,
  ...extra,
});

const posts = (d: AcmeDouble, path: string) =>
  d.requests.filter((r) => r.method === 'POST' && r.path === path);

describe('signed requests', () => {
  test('Content-Length, content type, User-Agent, kid/jwk, POST-as-GET, nonce reuse', async () => {
    const { d, c } = await setup((req) => {
      if (req.path === '/order/1') return { json: order(d.base, 'pending') };
      if (req.path === '/new-order')
        return { status: 201, headers: { location: `${d.base}/order/1` }, json: order(d.base, 'pending') };
      return undefined;
    });
    const created = await c.newOrder({ identifiers: ['A.example'] });
    assert.equal(created.url, `${d.base}/order/1`);
    const fetched = await c.getOrder(created.url);
    assert.equal(fetched.url, created.url);

    const [reg, newOrder, get] = d.requests.filter((r) => r.method === 'POST');
    for (const r of [reg, newOrder, get]) {
      assert.ok(r?.jws?.verified, `signature verifies for ${r?.path}`);
      assert.equal(r.headers['content-length'], String(Buffer.byteLength(r.body)));
      assert.equal(r.headers['transfer-encoding'], undefined);
      assert.equal(r.headers['content-type'], 'application/jose+json');
      assert.match(String(r.headers['user-agent']), /^certvault\/\d+\.\d+\.\d+/);
      assert.equal(r.jws.header.url, `${d.base}${r.path}`);
      assert.equal(r.jws.header.alg, 'ES256');
    }
    assert.ok(reg?.jws?.header.jwk && reg.jws.header.kid === undefined);
    assert.equal(newOrder?.jws?.header.kid, `${d.base}/acct/1`);
    assert.equal(newOrder?.jws?.header.jwk, undefined);
    assert.deepEqual(JSON.parse(newOrder?.jws?.payload ?? ''), {
      identifiers: [{ type: 'dns', value: 'a.example' }],
    });
    assert.equal(get?.jws?.payload, '');
    // One HEAD newNonce, then every POST reuses the nonce of the previous response.
    assert.equal(d.requests.filter((r) => r.method === 'HEAD').length, 1);
    assert.equal(newOrder?.jws?.header.nonce, d.nonces[d.requests.indexOf(reg!)]);
  });

  test('badNonce is retried with the nonce from the error, at most MAX_BAD_NONCE_RETRIES times', async () => {
    let fail = 2;
    const { d, c } = await setup((req) => {
      if (req.path === '/acct/1') {
        if (fail-- > 0) return { status: 400, json: { type: `${P}badNonce`, detail: 'stale' } };
        return { json: { status: 'deactivated' } };
      }
      return undefined;
    });
    assert.equal((await c.deactivateAccount()).status, 'deactivated');
    const tries = posts(d, '/acct/1');
    assert.equal(tries.length, 3);
    for (let i = 1; i < tries.length; i++) {
      assert.equal(tries[i]?.jws?.header.nonce, d.nonces[d.requests.indexOf(tries[i - 1]!)]);
    }

    fail = 100;
    await assert.rejects(
      c.deactivateAccount(),
      (e: unknown) => e instanceof AcmeProblem && e.shortType === 'badNonce',
    );
    assert.equal(posts(d, '/acct/1').length, 3 + MAX_BAD_NONCE_RETRIES + 1);
  });

  test('429 with a short Retry-After is retried; a long one throws with retryAfter', async () => {
    let limited = 1;
    const { d, c } = await setup((req): DoubleReply | undefined => {
      if (req.path === '/new-order') {
        if (limited-- > 0)
          return {
            status: 429,
            headers: { 'retry-after': '1' },
            json: { type: `${P}rateLimited`, detail: 'slow down' },
          };
        if (limited < -5) {
          return {
            status: 429,
            headers: { 'retry-after': '7200' },
            json: { type: `${P}rateLimited`, detail: 'too many certificates for a.example' },
          };
        }
        return { status: 201, headers: { location: `${d.base}/order/1` }, json: order(d.base, 'pending') };
      }
      return undefined;
    });
    const started = Date.now();
    await c.newOrder({ identifiers: ['a.example'] });
    assert.ok(Date.now() - started >= 900, 'waited about 1 s');
    assert.equal(posts(d, '/new-order').length, 2);

    limited = -10;
    const before = Date.now();
    await assert.rejects(c.newOrder({ identifiers: ['a.example'] }), (e: unknown) => {
      assert.ok(e instanceof AcmeProblem);
      assert.equal(e.status, 429);
      assert.equal(e.type, `${P}rateLimited`);
      assert.ok(e.retryAfter && Math.abs(e.retryAfter.getTime() - (before + 7_200_000)) < 5_000);
      assert.equal(
        e.message,
        `CA refused new order: rateLimited: too many certificates for a.example (retry after ${e.retryAfter.toISOString()})`,
      );
      assert.equal(e.exitCode, 1);
      return true;
    });
    assert.ok(Date.now() - before < 1000, 'did not sleep for the long Retry-After');
  });

  test('503: at most 3 short retries; without Retry-After no retry at all', async () => {
    let withHeader = true;
    const { d, c } = await setup((req): DoubleReply | undefined => {
      if (req.path === '/order/1') {
        return {
          status: 503,
          headers: withHeader ? { 'retry-after': new Date(Date.now() - 1000).toUTCString() } : {},
          json: { type: `${P}serverInternal`, detail: 'maintenance' },
        };
      }
      return undefined;
    });
    await assert.rejects(
      c.getOrder(`${d.base}/order/1`),
      /CA refused order fetch: serverInternal: maintenance/,
    );
    assert.equal(posts(d, '/order/1').length, 4);
    withHeader = false;
    await assert.rejects(c.getOrder(`${d.base}/order/1`), AcmeProblem);
    assert.equal(posts(d, '/order/1').length, 5);
  });

  test('problem documents: subproblems with identifiers, non-JSON bodies', async () => {
    const { d, c } = await setup((req) => {
      if (req.path === '/new-order') {
        return {
          status: 400,
          json: {
            type: `${P}rejectedIdentifier`,
            detail: 'Some identifiers were rejected',
            subproblems: [
              {
                type: `${P}malformed`,
                detail: 'Invalid underscore',
                identifier: { type: 'dns', value: 'a_b.example' },
              },
              {
                type: `${P}rejectedIdentifier`,
                detail: 'Policy forbids',
                identifier: { type: 'dns', value: 'c.example' },
              },
            ],
          },
        };
      }
      if (req.path === '/order/1')
        return { status: 502, headers: { 'content-type': 'text/html' }, text: '<html>bad gateway</html>' };
      return undefined;
    });
    await assert.rejects(c.newOrder({ identifiers: ['c.example'] }), (e: unknown) => {
      assert.ok(e instanceof AcmeProblem);
      assert.equal(e.url, `${d.base}/new-order`);
      assert.deepEqual(
        e.subproblems.map((s) => [s.identifier?.value, s.shortType]),
        [
          ['a_b.example', 'malformed'],
          ['c.example', 'rejectedIdentifier'],
        ],
      );
      assert.match(
        e.message,
        /\[a_b\.example: malformed: Invalid underscore; c\.example: rejectedIdentifier: Policy forbids\]$/,
      );
      return true;
    });
    await assert.rejects(c.getOrder(`${d.base}/order/1`), (e: unknown) => {
      assert.ok(e instanceof AcmeProblem);
      assert.equal(e.status, 502);
      assert.equal(e.message, 'CA refused order fetch: about:blank: HTTP 502');
      return true;
    });
  });

  test('per-request timeout is an operation error naming the host', async () => {
    const { d, c } = await setup(
      (req) => (req.path === '/order/1' ? { delayMs: 1500, json: {} } : undefined),
      {
        timeoutMs: 300,
      },
    );
    await assert.rejects(c.getOrder(`${d.base}/order/1`), (e: unknown) => {
      assert.ok(e instanceof CertvaultError && !(e instanceof AcmeProblem));
      assert.equal(e.message, `ACME order fetch: no answer from ${d.base} within 300ms`);
      return true;
    });
  });

  test('unreachable CA is an operation error', async () => {
    const c = await AcmeClient.create({
      directoryUrl: 'http://127.0.0.1:9/dir',
      accountKey: generateKey().privateKey,
    });
    await assert.rejects(
      c.directory(),
      /^CertvaultError: ACME directory: cannot reach http:\/\/127\.0\.0\.1:9: fetch failed/,
    );
    await c.close();
  });
});

describe('orders: profiles, replaces, polling', () => {
  test('profile must be listed by the directory; profile and replaces are sent', async () => {
    const { d, c } = await setup(
      (req) => {
        if (req.path === '/new-order') {
          const payload = JSON.parse(req.jws?.payload ?? '{}') as Record<string, unknown>;
          return {
            status: 201,
            headers: { location: `${d.base}/order/1` },
            json: order(d.base, 'pending', payload),
          };
        }
        return undefined;
      },
      { profiles: { classic: 'The same as always', shortlived: 'Six days' } },
    );
    assert.deepEqual(Object.keys((await c.directory()).meta?.profiles ?? {}), ['classic', 'shortlived']);
    const o = await c.newOrder({
      identifiers: ['a.example'],
      profile: 'shortlived',
      replaces: 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE',
    });
    assert.equal(o.profile, 'shortlived');
    assert.equal(o.replaces, 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE');
    await assert.rejects(c.newOrder({ identifiers: ['a.example'], profile: 'tlsserver' }), (e: unknown) => {
      assert.ok(e instanceof CertvaultError && e.kind === 'config');
      assert.equal(e.line, 'unknown certificate profile "tlsserver"; this CA offers: classic, shortlived');
      return true;
    });
    assert.equal(posts(d, '/new-order').length, 1);
  });

  test('pollOrder honours Retry-After (clamped) until valid', async () => {
    let polls = 0;
    const { d, c } = await setup((req) => {
      if (req.path === '/order/1') {
        polls++;
        if (polls < 3)
          return { headers: { 'retry-after': polls === 1 ? '0' : '1' }, json: order(d.base, 'processing') };
        return { json: order(d.base, 'valid', { certificate: `${d.base}/cert/1` }) };
      }
      return undefined;
    });
    const started = Date.now();
    const valid = await c.pollOrder(`${d.base}/order/1`, {
      until: 'valid',
      deadline: new Date(Date.now() + 10_000),
    });
    assert.equal(valid.certificate, `${d.base}/cert/1`);
    const elapsed = Date.now() - started;
    // Retry-After 0 is clamped up to 1 s, then 1 s: about 2 s in total.
    assert.ok(elapsed >= 1900 && elapsed < 4000, `elapsed ${elapsed}`);
  });

  test('pollOrder: deadline, abort, invalid with the order error', async () => {
    let status = 'processing';
    const { d, c } = await setup((req) => {
      if (req.path === '/order/1') {
        const error = { type: `${P}badCSR`, detail: 'CSR key is weak', status: 400 };
        return { json: order(d.base, status, status === 'invalid' ? { error } : {}) };
      }
      return undefined;
    });
    const url = `${d.base}/order/1`;
    await assert.rejects(
      c.pollOrder(url, { until: 'valid', deadline: new Date(Date.now() + 1200) }),
      /^CertvaultError: timed out waiting for order to become valid \(last status: processing\)/,
    );
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    await assert.rejects(
      c.pollOrder(url, { until: 'valid', deadline: new Date(Date.now() + 10_000), signal: ac.signal }),
      /cancelled/,
    );
    status = 'invalid';
    await assert.rejects(
      c.pollOrder(url, { until: 'valid', deadline: new Date(Date.now() + 10_000) }),
      (e: unknown) => {
        assert.ok(e instanceof AcmeProblem);
        assert.equal(e.message, 'CA refused order: badCSR: CSR key is weak');
        return true;
      },
    );
    status = 'ready';
    await assert.rejects(
      c.pollOrder(url, { until: 'valid', deadline: new Date(Date.now() + 10_000) }),
      (e: unknown) => {
        assert.ok(e instanceof CertvaultError);
        assert.equal(e.line, 'order is ready, it cannot become valid; finalize the order first');
        return true;
      },
    );
  });
});

describe('header parsing', () => {
  test('Retry-After as seconds, HTTP-date, garbage', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    assert.equal(parseRetryAfter('120', now)?.toISOString(), '2026-01-01T00:02:00.000Z');
    assert.equal(
      parseRetryAfter('Thu, 01 Jan 2026 06:00:00 GMT', now)?.toISOString(),
      '2026-01-01T06:00:00.000Z',
    );
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter(null, now), undefined);
  });

  test('Link: several links, quoted and multiple rels, commas in URLs, relative URLs', () => {
    const links = parseLinks(
      '<https://ca.example/cert/1/1>;rel="alternate", <https://ca.example/a,b>; rel=alternate, </dir>;rel="index up"',
      'https://ca.example/cert/1',
    );
    assert.deepEqual(links, [
      { url: 'https://ca.example/cert/1/1', rels: ['alternate'] },
      { url: 'https://ca.example/a,b', rels: ['alternate'] },
      { url: 'https://ca.example/dir', rels: ['index', 'up'] },
    ]);
  });
});
