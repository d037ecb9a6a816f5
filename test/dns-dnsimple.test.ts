import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { CertvaultError } from '../src/errors.js';
import { createDnsProvider } from '../src/dns/provider.js';
import { txtContent } from '../src/dns/providers/dnsimple.js';
import { startDnsimpleDouble, type DnsimpleDouble } from './support/dnsimple-double.js';

let api: DnsimpleDouble;
before(async () => {
  api = await startDnsimpleDouble({ zones: ['example.com', 'sub.example.org'] });
});
after(async () => {
  await api?.close();
});
afterEach(() => {
  assert.deepEqual(api.unexpected, [], 'the client made only documented requests');
  api.setDelay(0);
});

const provider = (extra: Record<string, string> = {}, timeoutMs?: number) =>
  createDnsProvider(
    'dnsimple',
    { token: api.token, account: api.account, 'base-url': api.baseUrl, ...extra },
    timeoutMs === undefined ? {} : { timeoutMs },
  );
const calls = (from: number) => api.requests.slice(from).map((r) => `${r.method} ${r.path}`);
let n = 0;
const label = () => `t${n++}${Date.now().toString(36)}`;

describe('dnsimple provider (against the local double)', () => {
  it('discovers the zone and adds one record per value', async () => {
    const rel = `_acme-challenge.${label()}`;
    const start = api.requests.length;
    await provider().present(`${rel}.example.com.`, ['v-one', 'v-two']);
    assert.deepEqual(api.txt('example.com', rel).sort(), ['v-one', 'v-two']);
    const made = calls(start);
    assert.deepEqual(made.slice(0, 3), [
      `GET /v2/1010/zones/${rel}.example.com`,
      `GET /v2/1010/zones/${rel.split('.')[1]}.example.com`,
      'GET /v2/1010/zones/example.com',
    ]);
    const posts = api.requests.slice(start).filter((r) => r.method === 'POST');
    assert.deepEqual(
      posts.map((p) => p.body),
      [
        { name: rel, type: 'TXT', content: 'v-one', ttl: 60 },
        { name: rel, type: 'TXT', content: 'v-two', ttl: 60 },
      ],
    );
  });

  it('is idempotent, and cleanup removes exactly our values', async () => {
    const p = provider({ zone: 'example.com', ttl: '120' });
    const rel = `_acme-challenge.${label()}`;
    api.addRecord('example.com', { name: rel, type: 'TXT', content: 'someone-else' });
    await p.present(`${rel}.example.com`, ['ours-1', 'ours-2']);
    const start = api.requests.length;
    await p.present(`${rel}.example.com`, ['ours-1', 'ours-2']);
    assert.ok(!calls(start).some((c) => c.startsWith('POST')), 'nothing created twice');
    assert.equal(api.txt('example.com', rel).length, 3);

    await p.cleanup(`${rel}.example.com`, ['ours-1']);
    assert.deepEqual(api.txt('example.com', rel).sort(), ['ours-2', 'someone-else']);
    await p.cleanup(`${rel}.example.com`, ['ours-1', 'ours-2']);
    assert.deepEqual(api.txt('example.com', rel), ['someone-else']);
    const again = api.requests.length;
    await p.cleanup(`${rel}.example.com`, ['ours-1']);
    assert.ok(!calls(again).some((c) => c.startsWith('DELETE')));
  });

  it('handles the apex and a zone deeper than the registered domain', async () => {
    await provider().present('sub.example.org', ['apex-value']);
    assert.deepEqual(api.txt('sub.example.org', ''), ['apex-value']);
    await provider().cleanup('sub.example.org', ['apex-value']);
    assert.deepEqual(api.txt('sub.example.org', ''), []);
  });

  it('finds our record on a later page', async () => {
    const rel = `_acme-challenge.${label()}`;
    for (let i = 0; i < 120; i++)
      api.addRecord('example.com', { name: rel, type: 'TXT', content: `filler-${i}` });
    const p = provider({ zone: 'example.com' });
    await p.present(`${rel}.example.com`, ['filler-110', 'page-two']);
    assert.equal(api.txt('example.com', rel).length, 121);
    await p.cleanup(`${rel}.example.com`, ['page-two', 'filler-115']);
    assert.equal(api.txt('example.com', rel).length, 119);
    assert.ok(api.requests.some((r) => r.query.includes('page=2')));
  });

  it('wrong token: config error, token never shown', async () => {
    const p = createDnsProvider('dnsimple', {
      token: 'wrong-token-xyz',
      account: api.account,
      'base-url': api.baseUrl,
    });
    await assert.rejects(p.present('_acme-challenge.example.com', ['x']), (err: CertvaultError) => {
      assert.equal(err.exitCode, 2);
      assert.match(err.line, /DNSimple rejected the API token \(401\) for account 1010; check token=/);
      assert.ok(!err.line.includes('wrong-token-xyz') && !err.line.includes(api.token));
      return true;
    });
  });

  it('no matching zone: says which account was searched', async () => {
    await assert.rejects(provider().present('_acme-challenge.nowhere.net', ['x']), (err: CertvaultError) => {
      assert.equal(err.exitCode, 2);
      assert.match(err.line, /no zone in DNSimple account 1010 contains _acme-challenge\.nowhere\.net/);
      return true;
    });
    await assert.rejects(
      provider({ zone: 'example.com' }).present('www.example.net', ['x']),
      /not in zone example\.com/,
    );
  });

  it('reports API errors with status and message, and times out', async () => {
    await assert.rejects(
      provider({ zone: 'missing.com' }).present('a.missing.com', ['x']),
      /HTTP 404: Zone `missing\.com` not found/,
    );
    api.setDelay(300);
    await assert.rejects(
      provider({}, 100).present('_acme-challenge.example.com', ['x']),
      /timed out after 100 ms/,
    );
  });

  it('reads quoted and multi-string TXT content', () => {
    assert.equal(txtContent('"abc"'), 'abc');
    assert.equal(txtContent('"ab" "cd"'), 'abcd');
    assert.equal(txtContent('"a\\"b"'), 'a"b');
    assert.equal(txtContent('raw-value'), 'raw-value');
  });
});

describe('dnsimple double', () => {
  it('rejects undocumented requests', async () => {
    const headers = { Authorization: `Bearer ${api.token}`, Accept: 'application/json' };
    const res = await fetch(`${api.baseUrl}/v2/1010/zones/example.com/records?foo=1`, { headers });
    assert.equal(res.status, 400);
    const put = await fetch(`${api.baseUrl}/v2/1010/zones/example.com/records/1`, { method: 'PUT', headers });
    assert.equal(put.status, 405);
    const noType = await fetch(`${api.baseUrl}/v2/1010/zones/example.com/records`, {
      method: 'POST',
      headers,
      body: '{}',
    });
    assert.equal(noType.status, 415);
    assert.equal(api.unexpected.length, 3);
    api.unexpected.length = 0;
  });
});
