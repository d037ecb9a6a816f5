// Tests of the Vault emulator itself, over HTTP with raw fetch: the wire shapes clients depend on.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { VaultEmulator, type VaultEmulatorOptions } from './support/vault-emulator.js';
import { testVault } from './support/vault.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Body = any;

interface Res {
  status: number;
  headers: Headers;
  text: string;
  body: Body;
}

interface CallOpts {
  /** Token to send; null sends none; default the root token. */
  token?: string | null;
  body?: unknown;
  raw?: string;
  headers?: Record<string, string>;
}

function client(emu: VaultEmulator) {
  return async (method: string, path: string, opts: CallOpts = {}): Promise<Res> => {
    const headers: Record<string, string> = { ...opts.headers };
    const token = opts.token === undefined ? emu.rootToken : opts.token;
    if (token !== null) headers['X-Vault-Token'] = token;
    const res = await fetch(`${emu.addr}/v1/${path}`, {
      method,
      headers,
      body: opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
    });
    const text = await res.text();
    let body: Body;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: res.status, headers: res.headers, text, body };
  };
}

const EMPTY_404 = '{"errors":[]}\n';
const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z$/;
const PATCH_JSON = { 'Content-Type': 'application/merge-patch+json' };

async function withEmulator(opts: VaultEmulatorOptions = {}) {
  const emu = await VaultEmulator.start({
    mounts: [
      { path: 'secret', version: 2 },
      { path: 'kv1', version: 1 },
    ],
    ...opts,
  });
  return { emu, call: client(emu) };
}

describe('HTTP layer', () => {
  let emu: VaultEmulator;
  let call: ReturnType<typeof client>;
  before(async () => ({ emu, call } = await withEmulator()));
  after(() => emu.close());

  it('sets no-store and JSON content type on success, error and 204', async () => {
    const ok = await call('POST', 'secret/data/h', { body: { data: { a: 1 } } });
    const err = await call('GET', 'secret/data/none');
    const empty = await call('DELETE', 'secret/data/h');
    for (const r of [ok, err, empty]) {
      assert.equal(r.headers.get('cache-control'), 'no-store');
      assert.equal(r.headers.get('content-type'), 'application/json');
    }
    assert.equal(empty.status, 204);
    assert.equal(empty.text, '');
    assert.equal(err.text, EMPTY_404);
  });

  it('returns the full success envelope', async () => {
    const r = await call('POST', 'secret/data/env', { body: { data: { a: 1 } } });
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.body), [
      'request_id',
      'lease_id',
      'renewable',
      'lease_duration',
      'data',
      'wrap_info',
      'warnings',
      'auth',
      'mount_type',
    ]);
    assert.match(r.body.request_id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(r.body.lease_id, '');
    assert.equal(r.body.renewable, false);
    assert.equal(r.body.lease_duration, 0);
    assert.equal(r.body.wrap_info, null);
    assert.equal(r.body.warnings, null);
    assert.equal(r.body.auth, null);
    assert.equal(r.body.mount_type, 'kv');
    assert.ok(r.text.endsWith('}\n'));
  });

  it('escapes <, > and & like Go and sorts map keys', async () => {
    await call('POST', 'secret/data/esc', { body: { data: { z: 1, '<a>': 'x&y' } } });
    const r = await call('GET', 'secret/data/esc');
    assert.ok(r.text.includes('"data":{"\\u003ca\\u003e":"x\\u0026y","z":1}'));
  });

  it('parses JSON whatever the content type, rejects bad JSON, reads forms', async () => {
    const plain = await call('POST', 'secret/data/ct', {
      raw: '{"data":{"a":1}}',
      headers: { 'Content-Type': 'text/plain;charset=UTF-8' },
    });
    assert.equal(plain.status, 200);
    const bad = await call('POST', 'secret/data/ct', {
      raw: '{"data":',
      headers: { 'Content-Type': 'application/json' },
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.text, '{"errors":["error parsing JSON"]}\n');
    const form = await call('POST', 'kv1/form', {
      raw: 'a=1&b=two',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(form.status, 204);
    assert.deepEqual((await call('GET', 'kv1/form')).body.data, { a: '1', b: 'two' });
  });

  it('answers 405 to unknown methods and 400 to writes ending in a slash', async () => {
    const r = await call('PROPFIND', 'secret/data/x');
    assert.equal(r.status, 405);
    assert.equal(r.text, EMPTY_404);
    const w = await call('PUT', 'secret/data/folder/', { body: { data: {} } });
    assert.equal(w.status, 400);
    assert.equal(w.text, `{"errors":["cannot write to a path ending in '/'"]}\n`);
  });

  it('parses list with Go ParseBool semantics', async () => {
    await call('POST', 'secret/data/lb/a', { body: { data: {} } });
    assert.equal((await call('GET', 'secret/metadata/lb?list=T')).status, 200);
    assert.equal((await call('GET', 'secret/metadata/lb?list=1')).status, 200);
    const bad = await call('GET', 'secret/metadata/lb?list=yes');
    assert.equal(bad.status, 400);
    assert.equal(bad.text, EMPTY_404);
  });

  it('accepts Authorization: Bearer and rejects unknown tokens with plain permission denied', async () => {
    const bearer = await call('GET', 'secret/config', {
      token: null,
      headers: { Authorization: `Bearer ${emu.rootToken}` },
    });
    assert.equal(bearer.status, 200);
    const bad = await call('GET', 'secret/config', { token: 'hvs.nope' });
    assert.equal(bad.status, 403);
    assert.equal(bad.text, '{"errors":["permission denied"]}\n');
    assert.equal((await call('GET', 'secret/config', { token: null })).status, 403);
  });

  it('routes unmounted paths to 404 no handler, non-/v1 paths to 404', async () => {
    const r = await call('GET', 'nothing/here');
    assert.equal(r.status, 404);
    assert.equal(r.text, '{"errors":["no handler for route \\"nothing/here\\". route entry not found."]}\n');
    const outside = await fetch(`${emu.addr}/ui/`);
    assert.equal(outside.status, 404);
    await outside.text();
  });
});

describe('KV v2', () => {
  let emu: VaultEmulator;
  let call: ReturnType<typeof client>;
  before(async () => ({ emu, call } = await withEmulator()));
  after(() => emu.close());

  it('writes and reads versions with RFC 3339 nanosecond timestamps', async () => {
    const w1 = await call('POST', 'secret/data/app/one', { body: { data: { v: 1 } } });
    assert.equal(w1.status, 200);
    assert.deepEqual(Object.keys(w1.body.data), [
      'created_time',
      'custom_metadata',
      'deletion_time',
      'destroyed',
      'version',
    ]);
    assert.match(w1.body.data.created_time, TIME);
    assert.equal(w1.body.data.deletion_time, '');
    assert.equal(w1.body.data.custom_metadata, null);
    await call('POST', 'secret/data/app/one', { body: { data: { v: 2 } } });
    const cur = await call('GET', 'secret/data/app/one');
    assert.deepEqual(cur.body.data.data, { v: 2 });
    assert.equal(cur.body.data.metadata.version, 2);
    const old = await call('GET', 'secret/data/app/one?version=1');
    assert.deepEqual(old.body.data.data, { v: 1 });
    assert.equal((await call('GET', 'secret/data/app/one?version=9')).text, EMPTY_404);
    const bad = await call('GET', 'secret/data/app/one?version=x');
    assert.equal(bad.status, 400);
    assert.match(bad.body.errors[0], /Field validation failed/);
  });

  it('answers 404 {"errors":[]} for an absent key and for metadata-only keys', async () => {
    const r = await call('GET', 'secret/data/absent');
    assert.equal(r.status, 404);
    assert.equal(r.text, EMPTY_404);
    assert.equal((await call('POST', 'secret/metadata/metaonly', { body: { max_versions: 3 } })).status, 204);
    assert.equal((await call('GET', 'secret/data/metaonly')).text, EMPTY_404);
    assert.equal((await call('GET', 'secret/metadata/nothing')).text, EMPTY_404);
  });

  it('enforces check-and-set with exact 400 messages', async () => {
    const first = await call('POST', 'secret/data/cas', { body: { data: { a: 1 }, options: { cas: 0 } } });
    assert.equal(first.status, 200);
    const again = await call('POST', 'secret/data/cas', { body: { data: { a: 2 }, options: { cas: 0 } } });
    assert.equal(again.status, 400);
    assert.equal(again.text, '{"errors":["check-and-set parameter did not match the current version"]}\n');
    assert.equal(
      (await call('POST', 'secret/data/cas', { body: { data: {}, options: { cas: '1' } } })).status,
      200,
    );
    const junk = await call('POST', 'secret/data/cas', { body: { data: {}, options: { cas: 'x' } } });
    assert.deepEqual(junk.body, { errors: ['error parsing check-and-set parameter'] });
    const nodata = await call('POST', 'secret/data/cas', { body: { options: { cas: 2 } } });
    assert.deepEqual(nodata.body, { errors: ['no data provided'] });
  });

  it('lets cas:0 create over metadata-only keys but not over soft-deleted ones', async () => {
    await call('POST', 'secret/metadata/pre', { body: { custom_metadata: { owner: 'x' } } });
    const w = await call('POST', 'secret/data/pre', { body: { data: { a: 1 }, options: { cas: 0 } } });
    assert.equal(w.status, 200);
    assert.deepEqual(w.body.data.custom_metadata, { owner: 'x' });
    await call('DELETE', 'secret/data/pre');
    const again = await call('POST', 'secret/data/pre', { body: { data: { a: 1 }, options: { cas: 0 } } });
    assert.equal(again.status, 400);
    assert.equal(
      (await call('POST', 'secret/data/pre', { body: { data: { a: 1 }, options: { cas: 1 } } })).status,
      200,
    );
  });

  it('requires cas when the key metadata or the mount config says so', async () => {
    await call('POST', 'secret/metadata/strict', { body: { cas_required: true } });
    const r = await call('POST', 'secret/data/strict', { body: { data: { a: 1 } } });
    assert.equal(r.status, 400);
    assert.equal(r.text, '{"errors":["check-and-set parameter required for this call"]}\n');
    const { emu: e2, call: c2 } = await withEmulator({
      mounts: [{ path: 'secret', version: 2, casRequired: true }],
    });
    try {
      assert.equal((await c2('POST', 'secret/data/k', { body: { data: {} } })).status, 400);
      assert.equal(
        (await c2('POST', 'secret/data/k', { body: { data: {}, options: { cas: 0 } } })).status,
        200,
      );
      const warn = await c2('POST', 'secret/metadata/k', { body: { cas_required: false } });
      assert.equal(warn.status, 200);
      assert.deepEqual(warn.body.warnings, [
        '"cas_required" set to false, but is mandated by backend config. This value will be ignored.',
      ]);
      assert.equal((await c2('GET', 'secret/config')).body.data.cas_required, true);
    } finally {
      await e2.close();
    }
  });

  it('shows deleted and destroyed versions as 404 with the full envelope', async () => {
    await call('POST', 'secret/data/gone', { body: { data: { a: 1 } } });
    await call('POST', 'secret/data/gone', { body: { data: { a: 2 } } });
    assert.equal((await call('DELETE', 'secret/data/gone')).status, 204);
    const del = await call('GET', 'secret/data/gone');
    assert.equal(del.status, 404);
    assert.ok(!del.text.endsWith('\n'));
    assert.equal(del.body.data.data, null);
    assert.equal(del.body.data.metadata.version, 2);
    assert.match(del.body.data.metadata.deletion_time, TIME);
    assert.equal(del.body.data.metadata.destroyed, false);
    assert.equal(del.body.mount_type, '');
    assert.equal((await call('GET', 'secret/data/gone?version=1')).status, 200);
    assert.equal((await call('POST', 'secret/undelete/gone', { body: { versions: [2] } })).status, 204);
    assert.deepEqual((await call('GET', 'secret/data/gone')).body.data.data, { a: 2 });
    assert.equal((await call('PUT', 'secret/destroy/gone', { body: { versions: '1,2' } })).status, 204);
    const destroyed = await call('GET', 'secret/data/gone?version=1');
    assert.equal(destroyed.status, 404);
    assert.equal(destroyed.body.data.metadata.destroyed, true);
    assert.equal(destroyed.body.data.metadata.deletion_time, '');
    assert.equal((await call('POST', 'secret/undelete/gone', { body: { versions: [1] } })).status, 204);
    assert.equal((await call('GET', 'secret/data/gone?version=1')).status, 404);
    assert.deepEqual((await call('POST', 'secret/delete/gone', { body: {} })).body, {
      errors: ['No version number provided'],
    });
    assert.deepEqual((await call('POST', 'secret/destroy/gone', { body: { versions: [] } })).body, {
      errors: ['no version number provided'],
    });
    assert.equal((await call('POST', 'secret/delete/never', { body: { versions: [1] } })).status, 204);
    assert.equal((await call('GET', 'secret/delete/gone')).status, 405);
  });

  it('patches with merge-patch semantics and the three PATCH 404/415 shapes', async () => {
    await call('POST', 'secret/data/p', { body: { data: { a: 1, n: { x: 1, y: 2 }, drop: true } } });
    const ok = await call('PATCH', 'secret/data/p', {
      body: { data: { a: 2, n: { y: null, z: 3 }, drop: null } },
      headers: PATCH_JSON,
    });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.data.version, 2);
    assert.deepEqual((await call('GET', 'secret/data/p')).body.data.data, { a: 2, n: { x: 1, z: 3 } });
    const absent = await call('PATCH', 'secret/data/nope', { body: { data: { a: 1 } }, headers: PATCH_JSON });
    assert.equal(absent.status, 404);
    assert.equal(absent.text, '');
    assert.equal(absent.headers.get('content-type'), 'application/json');
    const wrongType = await call('PATCH', 'secret/data/p', {
      body: { data: {} },
      headers: { 'Content-Type': 'application/json' },
    });
    assert.equal(wrongType.status, 415);
    assert.equal(
      wrongType.text,
      '{"errors":["PATCH requires Content-Type of application/merge-patch+json, provided application/json"]}\n',
    );
    const noType = await fetch(`${emu.addr}/v1/secret/data/p`, {
      method: 'PATCH',
      headers: { 'X-Vault-Token': emu.rootToken, 'Content-Type': '' },
      body: new Uint8Array(Buffer.from('{"data":{}}')),
    });
    assert.equal(noType.status, 400);
    assert.deepEqual(await noType.json(), { errors: ['mime: no media type'] });
    const cas = await call('PATCH', 'secret/data/p', {
      body: { data: {}, options: { cas: 0 } },
      headers: PATCH_JSON,
    });
    assert.equal(cas.status, 400);
    await call('DELETE', 'secret/data/p');
    const deleted = await call('PATCH', 'secret/data/p', { body: { data: { a: 3 } }, headers: PATCH_JSON });
    assert.equal(deleted.status, 404);
    assert.equal(deleted.body.data.version, 2);
    assert.match(deleted.body.data.deletion_time, TIME);
  });

  it('validates custom_metadata and patches metadata', async () => {
    const long = await call('POST', 'secret/metadata/cm', {
      body: { custom_metadata: { x: 'v'.repeat(600) } },
    });
    assert.equal(long.status, 400);
    assert.equal(
      long.body.errors[0],
      '1 error occurred:\n\t* custom_metadata validation failed: length of value for key "x" is 600 but must be 0 < len(value) <= 512\n\n',
    );
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
    const tooMany = await call('POST', 'secret/metadata/cm', { body: { custom_metadata: many } });
    assert.match(tooMany.body.errors[0], /payload must contain at most 64 keys, provided 65/);
    assert.equal((await call('POST', 'secret/metadata/cm', { body: {} })).status, 204);
    assert.equal((await call('GET', 'secret/metadata/cm')).status, 404);
    await call('POST', 'secret/metadata/cm', { body: { custom_metadata: { a: '1', b: 2 } } });
    const p = await call('PATCH', 'secret/metadata/cm', {
      body: { custom_metadata: { a: null, c: '3' }, max_versions: 4 },
      headers: PATCH_JSON,
    });
    assert.equal(p.status, 204);
    const meta = (await call('GET', 'secret/metadata/cm')).body.data;
    assert.deepEqual(meta.custom_metadata, { b: '2', c: '3' });
    assert.equal(meta.max_versions, 4);
    assert.equal(meta.current_version, 0);
    assert.deepEqual(meta.versions, {});
    const absent = await call('PATCH', 'secret/metadata/none', {
      body: { max_versions: 1 },
      headers: PATCH_JSON,
    });
    assert.equal(absent.status, 404);
    assert.equal(absent.text, '');
    assert.equal((await call('DELETE', 'secret/metadata/none')).status, 204);
  });

  it('prunes versions with the effective max_versions', async () => {
    await call('POST', 'secret/metadata/mv', { body: { max_versions: 2 } });
    for (let i = 1; i <= 3; i++) await call('POST', 'secret/data/mv', { body: { data: { i } } });
    const meta = (await call('GET', 'secret/metadata/mv')).body.data;
    assert.deepEqual(Object.keys(meta.versions), ['2', '3']);
    assert.equal(meta.oldest_version, 2);
    assert.equal((await call('GET', 'secret/data/mv?version=1')).text, EMPTY_404);
    // A mount setting above the key's wins: a key cannot keep fewer versions than the mount.
    await call('POST', 'secret/config', { body: { max_versions: 4 } });
    for (let i = 4; i <= 6; i++) await call('POST', 'secret/data/mv', { body: { data: { i } } });
    const after4 = (await call('GET', 'secret/metadata/mv')).body.data;
    assert.deepEqual(Object.keys(after4.versions), ['3', '4', '5', '6']);
    await call('POST', 'secret/config', { body: { max_versions: 0 } });
  });

  it('applies delete_version_after from the clock, not from presence', async () => {
    await call('POST', 'secret/metadata/dva', { body: { delete_version_after: '1h' } });
    await call('POST', 'secret/data/dva', { body: { data: { a: 1 } } });
    const live = await call('GET', 'secret/data/dva');
    assert.equal(live.status, 200);
    assert.match(live.body.data.metadata.deletion_time, TIME);
    assert.equal((await call('GET', 'secret/metadata/dva')).body.data.delete_version_after, '1h0m0s');
    emu.advanceTime(2 * 3600 * 1000);
    assert.equal((await call('GET', 'secret/data/dva')).status, 404);
    assert.equal((await call('POST', 'secret/config', { body: { delete_version_after: -1 } })).status, 204);
    assert.equal((await call('GET', 'secret/config')).body.data.delete_version_after, '-1s');
    await call('POST', 'secret/data/dva', { body: { data: { a: 2 } } });
    assert.equal((await call('GET', 'secret/data/dva')).body.data.metadata.deletion_time, '');
    await call('POST', 'secret/config', { body: { delete_version_after: 0 } });
  });

  it('lists immediate children sorted byte-wise, folders with a slash, 404 when empty', async () => {
    for (const k of ['ls/b', 'ls/a', 'ls/a/x', 'ls/B', 'ls/\uff21', 'ls/\u{1f600}', 'ls/deep/er/key']) {
      await call('POST', `secret/data/${encodeURIComponent(k).replace(/%2F/g, '/')}`, { body: { data: {} } });
    }
    await call('POST', 'secret/metadata/ls/metaonly', { body: { max_versions: 1 } });
    await call('DELETE', 'secret/data/ls/b');
    const r = await call('GET', 'secret/metadata/ls?list=true');
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.data.keys, ['B', 'a', 'a/', 'b', 'deep/', 'metaonly', '\uff21', '\u{1f600}']);
    assert.deepEqual((await call('GET', 'secret/metadata/ls/deep/?list=true')).body.data.keys, ['er/']);
    assert.equal((await call('GET', 'secret/metadata/ls/b?list=true')).text, EMPTY_404);
    assert.equal((await call('GET', 'secret/metadata/nowhere?list=true')).text, EMPTY_404);
    assert.ok((await call('GET', 'secret/metadata?list=true')).body.data.keys.includes('ls/'));
    const dataList = await call('GET', 'secret/data/ls?list=true');
    assert.equal(dataList.status, 404);
    assert.match(dataList.body.warnings[0], /use 'vault kv list' for this operation/);
  });

  it('returns subkeys and config', async () => {
    await call('POST', 'secret/data/sk', {
      body: { data: { foo: 'x', bar: { baz: 1, q: { r: 1 } }, e: {} } },
    });
    const all = await call('GET', 'secret/subkeys/sk');
    assert.deepEqual(all.body.data.subkeys, { bar: { baz: null, q: { r: null } }, e: null, foo: null });
    const d1 = await call('GET', 'secret/subkeys/sk?depth=1');
    assert.deepEqual(d1.body.data.subkeys, { bar: null, e: null, foo: null });
    assert.equal(d1.body.data.metadata.version, 1);
    assert.equal((await call('GET', 'secret/subkeys/none')).text, EMPTY_404);
    const cfg = await call('GET', 'secret/config');
    assert.deepEqual(cfg.body.data, { cas_required: false, delete_version_after: '0s', max_versions: 0 });
  });

  it('answers invalid paths with the raw 404 envelope and its warning', async () => {
    const r = await call('GET', 'secret/foo');
    assert.equal(r.status, 404);
    assert.equal(r.body.data, null);
    assert.deepEqual(r.body.warnings, [
      "Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. If using the Vault CLI, use 'vault kv get' for this operation.",
    ]);
    const root = await call('GET', 'secret/data');
    assert.deepEqual(root.body.warnings, [
      'Non-listing operations on the root of a K/V v2 mount are not supported.',
    ]);
    const put = await call('POST', 'secret/foo', { body: { a: 1 } });
    assert.match(put.body.warnings[0], /'vault kv put'/);
  });

  it('warns about unrecognised parameters', async () => {
    await call('POST', 'secret/data/warn', { body: { data: {}, extra: 1, another: 2 } });
    const r = await call('GET', 'secret/data/warn?foo=1');
    assert.deepEqual(r.body.warnings, ['Endpoint ignored these unrecognized parameters: [foo]']);
  });
});

describe('KV v1 and mounts', () => {
  let emu: VaultEmulator;
  let call: ReturnType<typeof client>;
  before(async () => ({ emu, call } = await withEmulator()));
  after(() => emu.close());

  it('stores plain objects with 204s and reports the lease duration', async () => {
    assert.equal((await call('PUT', 'kv1/app/cfg', { body: { user: 'u', ttl: '1h' } })).status, 204);
    const r = await call('GET', 'kv1/app/cfg');
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.data, { ttl: '1h', user: 'u' });
    assert.equal(r.body.lease_duration, 3600);
    await call('PUT', 'kv1/app/plain', { body: { a: 1 } });
    assert.equal((await call('GET', 'kv1/app/plain')).body.lease_duration, 2764800);
    assert.equal((await call('GET', 'kv1/app/none')).text, EMPTY_404);
    assert.deepEqual((await call('PUT', 'kv1/app/empty', { body: {} })).body, {
      errors: ['missing data fields'],
    });
    assert.deepEqual((await call('GET', 'kv1/app?list=true')).body.data.keys, ['cfg', 'plain']);
    assert.equal((await call('GET', 'kv1/app/cfg?list=true')).text, EMPTY_404);
    assert.equal((await call('PATCH', 'kv1/app/cfg', { body: { a: 1 }, headers: PATCH_JSON })).status, 405);
    assert.equal((await call('DELETE', 'kv1/app/cfg')).status, 204);
    assert.equal((await call('DELETE', 'kv1/app/cfg')).status, 204);
    assert.equal((await call('GET', 'kv1/app/cfg')).status, 404);
  });

  it('describes mounts through sys/internal/ui/mounts', async () => {
    const v2 = await call('GET', 'sys/internal/ui/mounts/secret/some/key');
    assert.equal(v2.status, 200);
    assert.equal(v2.body.data.path, 'secret/');
    assert.equal(v2.body.data.type, 'kv');
    assert.deepEqual(v2.body.data.options, { version: '2' });
    const v1 = await call('GET', 'sys/internal/ui/mounts/kv1');
    assert.deepEqual(v1.body.data.options, { version: '1' });
    assert.equal(v1.body.data.path, 'kv1/');
    const none = await call('GET', 'sys/internal/ui/mounts/nope/x');
    assert.equal(none.status, 403);
    assert.equal(
      none.text,
      '{"errors":["preflight capability check returned 403, please ensure client\'s policies grant access to path \\"nope/x/\\""]}\n',
    );
    const mounts = await call('GET', 'sys/mounts');
    assert.ok(mounts.body.data['secret/']);
  });
});

describe('health, seal and standby', () => {
  let emu: VaultEmulator;
  let call: ReturnType<typeof client>;
  before(async () => ({ emu, call } = await withEmulator()));
  after(() => emu.close());

  it('reports the active state without a token, with query overrides', async () => {
    const r = await call('GET', 'sys/health', { token: null });
    assert.equal(r.status, 200);
    assert.equal(r.body.sealed, false);
    assert.equal(r.body.standby, false);
    assert.equal(r.body.initialized, true);
    assert.equal((await call('GET', 'sys/health?activecode=204', { token: null })).status, 204);
    const head = await call('HEAD', 'sys/health', { token: null });
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
    assert.equal((await call('GET', 'sys/health?activecode=abc')).status, 400);
  });

  it('answers 503 Vault is sealed while sealed', async () => {
    emu.seal();
    try {
      const h = await call('GET', 'sys/health');
      assert.equal(h.status, 503);
      assert.equal(h.body.sealed, true);
      assert.equal(h.body.cluster_name, undefined);
      assert.equal((await call('GET', 'sys/health?sealedcode=200')).status, 200);
      const r = await call('GET', 'secret/data/x');
      assert.equal(r.status, 503);
      assert.equal(r.text, '{"errors":["Vault is sealed"]}\n');
      assert.equal((await call('GET', 'sys/seal-status')).body.sealed, true);
    } finally {
      emu.unseal();
    }
    assert.equal((await call('GET', 'secret/data/x')).status, 404);
    assert.equal((await call('PUT', 'sys/seal')).status, 204);
    assert.equal(emu.sealed, true);
    assert.equal((await call('PUT', 'sys/unseal', { body: { key: 'k' } })).body.sealed, false);
  });

  it('behaves as a standby: 429 health, 503 or 307 for requests', async () => {
    emu.setStandby(true);
    try {
      const h = await call('GET', 'sys/health');
      assert.equal(h.status, 429);
      assert.equal(h.body.standby, true);
      assert.equal((await call('GET', 'sys/health?standbyok=true')).status, 200);
      assert.equal((await call('GET', 'sys/health?standbycode=200')).status, 200);
      const r = await call('GET', 'secret/data/x');
      assert.equal(r.status, 503);
      assert.deepEqual(r.body, { errors: ['no active Vault instance found'] });
      emu.setStandby(true, 'http://127.0.0.1:1');
      const red = await fetch(`${emu.addr}/v1/secret/data/x?version=2`, {
        headers: { 'X-Vault-Token': emu.rootToken },
        redirect: 'manual',
      });
      assert.equal(red.status, 307);
      assert.equal(red.headers.get('location'), 'http://127.0.0.1:1/v1/secret/data/x?version=2');
    } finally {
      emu.setStandby(false);
    }
    emu.setInitialized(false);
    assert.equal((await call('GET', 'sys/health')).status, 501);
    emu.setInitialized(true);
  });
});

describe('namespaces', () => {
  let emu: VaultEmulator;
  let call: ReturnType<typeof client>;
  before(async () => ({ emu, call } = await withEmulator({ namespaces: ['team'] })));
  after(() => emu.close());

  it('isolates data per namespace, echoes the header and logs the namespace', async () => {
    const ns = { 'X-Vault-Namespace': 'team' };
    const w = await call('POST', 'secret/data/shared', { body: { data: { who: 'team' } }, headers: ns });
    assert.equal(w.status, 200);
    assert.equal(w.headers.get('x-vault-namespace'), 'team');
    assert.equal((await call('GET', 'secret/data/shared')).status, 404);
    assert.deepEqual((await call('GET', 'secret/data/shared', { headers: ns })).body.data.data, {
      who: 'team',
    });
    assert.deepEqual((await call('GET', 'team/secret/data/shared')).body.data.data, { who: 'team' });
    await call('POST', 'secret/data/shared', { body: { data: { who: 'root' } } });
    assert.deepEqual((await call('GET', 'secret/data/shared', { headers: ns })).body.data.data, {
      who: 'team',
    });
    const last = emu.requests.at(-1);
    assert.equal(last?.namespace, 'team');
    assert.equal(last?.path, 'secret/data/shared');
    const unknown = await call('GET', 'secret/data/shared', { headers: { 'X-Vault-Namespace': 'other' } });
    assert.equal(unknown.status, 404);
    assert.deepEqual(unknown.body, { errors: ['namespace not found'] });
  });
});

describe('faults and request log', () => {
  let emu: VaultEmulator;
  let call: ReturnType<typeof client>;
  before(async () => ({ emu, call } = await withEmulator({ faultSeed: 42 })));
  after(() => emu.close());

  it('honours ratio roughly and reports matched/fired counts', async () => {
    await call('POST', 'secret/data/r', { body: { data: {} } });
    const fault = emu.addFault({ path: 'secret/data/r', method: 'GET', status: 500, ratio: 0.3 });
    let failed = 0;
    const n = 300;
    for (let i = 0; i < n; i++) if ((await call('GET', 'secret/data/r')).status === 500) failed++;
    fault();
    assert.equal(fault.matched, n);
    assert.equal(fault.fired, failed);
    assert.ok(failed > n * 0.2 && failed < n * 0.4, `fired ${failed}/${n}`);
    assert.equal((await call('GET', 'secret/data/r')).status, 200);
  });

  it('adds latency, limits by count, matches RegExp paths and drops connections', async () => {
    emu.addFault({ path: /^secret\/data\/slow/, latencyMs: 80 });
    const t0 = performance.now();
    assert.equal((await call('GET', 'secret/data/slow')).status, 404);
    assert.ok(performance.now() - t0 >= 75);
    assert.ok((emu.requests.at(-1)?.ms ?? 0) >= 75);
    emu.clearFaults();
    emu.addFault({ path: 'secret/data/c*', status: 503, body: { errors: ['busy'] }, count: 2 });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await call('GET', 'secret/data/count')).status);
    assert.deepEqual(statuses, [503, 503, 404]);
    emu.addFault({ method: 'LIST', status: 502 });
    assert.equal((await call('GET', 'secret/metadata?list=true')).status, 502);
    assert.equal((await call('GET', 'secret/data/x')).status, 404);
    emu.clearFaults();
    emu.addFault({ path: 'secret/data/drop', dropConnection: true });
    await assert.rejects(call('GET', 'secret/data/drop'));
    assert.equal(emu.requests.at(-1)?.status, 0);
    emu.clearFaults();
  });

  it('logs method, path, query, status and namespace, with counters by kind', async () => {
    emu.resetLog();
    await call('GET', 'secret/metadata/a?list=true');
    await call('GET', 'secret/data/a?version=3');
    await call('GET', 'secret/data/b');
    await call('GET', 'kv1/x');
    assert.deepEqual(
      emu.requests.map((r) => [r.method, r.path, r.query, r.status, r.namespace]),
      [
        ['LIST', 'secret/metadata/a', { list: 'true' }, 404, ''],
        ['GET', 'secret/data/a', { version: '3' }, 404, ''],
        ['GET', 'secret/data/b', {}, 404, ''],
        ['GET', 'kv1/x', {}, 404, ''],
      ],
    );
    assert.equal(emu.counters.get('GET secret/data'), 2);
    assert.equal(emu.counters.get('LIST secret/metadata'), 1);
    assert.equal(emu.counters.get('GET kv1/'), 1);
    emu.resetLog();
    assert.equal(emu.requests.length, 0);
  });
});

describe('testVault helper', () => {
  it('against a "real" server (here an emulator) writes nothing outside its prefix and cleans it up', async () => {
    const server = await VaultEmulator.start({
      mounts: [
        { path: 'secret', version: 2 },
        { path: 'kv1', version: 1 },
      ],
    });
    const saved = { ...process.env };
    process.env.CERTVAULT_TEST_VAULT_ADDR = `${server.addr}/`;
    process.env.CERTVAULT_TEST_VAULT_TOKEN = server.rootToken;
    process.env.CERTVAULT_TEST_VAULT_KV1_MOUNT = 'kv1';
    delete process.env.CERTVAULT_TEST_VAULT_MOUNT;
    try {
      const call = client(server);
      await call('POST', 'secret/data/keep', { body: { data: {} } });
      const v = await testVault();
      assert.equal(v.emulator, undefined);
      assert.equal(v.addr, server.addr);
      assert.equal(v.mount, 'secret');
      for (const k of ['a', 'x/y', 'x/z/w']) {
        await call('POST', `secret/data/${v.prefix}/${k}`, { body: { data: { k } } });
      }
      await call('POST', `secret/metadata/${v.prefix}/metaonly`, { body: { max_versions: 1 } });
      await call('PUT', `kv1/${v.prefix}/one`, { body: { a: 1 } });
      await v.close();
      assert.equal((await call('GET', `secret/metadata/${v.prefix}?list=true`)).status, 404);
      assert.equal((await call('GET', `kv1/${v.prefix}?list=true`)).status, 404);
      assert.equal((await call('GET', 'secret/data/keep')).status, 200);
    } finally {
      process.env = saved;
      await server.close();
    }
  });

  it('starts an emulator with secret/ (v2) and kv1/ (v1) and a unique prefix', async () => {
    if (process.env.CERTVAULT_TEST_VAULT_ADDR) return;
    const t0 = performance.now();
    const a = await testVault();
    const b = await testVault();
    try {
      assert.ok(performance.now() - t0 < 1000);
      assert.notEqual(a.prefix, b.prefix);
      assert.match(a.prefix, /^cvtest-[0-9a-f]+$/);
      assert.equal(a.mount, 'secret');
      assert.equal(a.kv1Mount, 'kv1');
      const res = await fetch(`${a.addr}/v1/${a.mount}/data/${a.prefix}/k`, {
        method: 'POST',
        headers: { 'X-Vault-Token': a.token },
        body: JSON.stringify({ data: { x: 1 } }),
      });
      assert.equal(res.status, 200);
      await res.text();
    } finally {
      await a.close();
      await b.close();
    }
  });
});

const DENIED = '{"errors":["1 error occurred:\\n\\t* permission denied\\n\\n"]}\n';

describe('ACL policies', () => {
  let emu: VaultEmulator;
  let call: ReturnType<typeof client>;
  before(async () => ({ emu, call } = await withEmulator()));
  after(() => emu.close());
  const tokenFor = (...policies: string[]) => emu.createToken({ policies });

  it('matches * globs and + segments, denying with the multierror body before routing', async () => {
    emu.setPolicy('glob', 'path "secret/data/app/*" { capabilities = ["read"] }');
    emu.setPolicy('seg', '# one segment\npath "secret/data/+/cfg" {\n  capabilities = ["read"]\n}');
    const t = tokenFor('glob', 'seg');
    assert.equal((await call('GET', 'secret/data/app/x/y', { token: t })).status, 404);
    assert.equal((await call('GET', 'secret/data/team/cfg', { token: t })).status, 404);
    const deep = await call('GET', 'secret/data/team/x/cfg', { token: t });
    assert.equal(deep.status, 403);
    assert.equal(deep.text, DENIED);
    assert.equal((await call('GET', 'secret/data/team/cfgx', { token: t })).status, 403);
    assert.equal((await call('POST', 'secret/data/app/x', { token: t, body: { data: {} } })).status, 403);
    // Denied before routing: a non-root caller cannot tell unmounted paths apart.
    assert.equal((await call('GET', 'nowhere/x', { token: t })).text, DENIED);
  });

  it('applies priority between patterns, union for equal patterns, and deny wins', async () => {
    emu.setPolicy(
      'prio',
      [
        'path "secret/data/p/*" { capabilities = ["read"] }',
        'path "secret/data/p/+/x" { capabilities = ["deny"] }',
        'path "secret/data/p/sub*" { capabilities = ["deny"] }',
        'path "secret/data/p/exact" { capabilities = ["create"] }',
      ].join('\n'),
    );
    const t = tokenFor('prio');
    assert.equal((await call('GET', 'secret/data/p/a/y', { token: t })).status, 404);
    assert.equal((await call('GET', 'secret/data/p/a/x', { token: t })).status, 403);
    assert.equal((await call('GET', 'secret/data/p/subkey', { token: t })).status, 403);
    assert.equal((await call('GET', 'secret/data/p/other', { token: t })).status, 404);
    assert.equal((await call('GET', 'secret/data/p/exact', { token: t })).status, 403);
    emu.setPolicy('u-read', 'path "secret/data/u/*" { capabilities = ["read"] }');
    emu.setPolicy('u-create', 'path "secret/data/u/*" { capabilities = ["create"] }');
    emu.setPolicy('u-deny', 'path "secret/data/u/*" { capabilities = ["deny"] }');
    const both = tokenFor('u-read', 'u-create');
    assert.equal((await call('POST', 'secret/data/u/k', { token: both, body: { data: {} } })).status, 200);
    assert.equal((await call('GET', 'secret/data/u/k', { token: both })).status, 200);
    const denied = tokenFor('u-read', 'u-deny');
    assert.equal((await call('GET', 'secret/data/u/k', { token: denied })).status, 403);
    const caps = await call('POST', 'sys/capabilities-self', {
      token: both,
      body: { paths: ['secret/data/u/k'] },
    });
    assert.deepEqual(caps.body.data, {
      capabilities: ['create', 'read'],
      'secret/data/u/k': ['create', 'read'],
    });
    assert.deepEqual(caps.body.capabilities, ['create', 'read']);
    const none = await call('POST', 'sys/capabilities-self', { token: both, body: { path: 'kv1/x' } });
    assert.deepEqual(none.body.data.capabilities, ['deny']);
  });

  it('decides create vs update by KV v2 metadata existence (KV v1: entry existence)', async () => {
    emu.setPolicy('issuer', 'path "secret/data/c/*" { capabilities = ["create", "read"] }');
    emu.setPolicy('renewer', 'path "secret/data/c/*" { capabilities = ["update", "read"] }');
    const issuer = tokenFor('issuer');
    const renewer = tokenFor('renewer');
    const write = (token: string, key: string) =>
      call('POST', `secret/data/c/${key}`, { token, body: { data: { v: 1 } } });
    assert.equal((await write(issuer, 'new')).status, 200);
    assert.equal((await write(issuer, 'new')).text, DENIED);
    assert.equal((await write(renewer, 'new')).status, 200);
    assert.equal((await write(renewer, 'fresh')).status, 403);
    await call('POST', 'secret/metadata/c/metaonly', { body: { max_versions: 2 } });
    assert.equal((await write(issuer, 'metaonly')).status, 403);
    assert.equal((await write(renewer, 'metaonly')).status, 200);
    await call('DELETE', 'secret/data/c/new');
    assert.equal((await write(issuer, 'new')).status, 403);
    await call('DELETE', 'secret/metadata/c/new');
    assert.equal((await write(issuer, 'new')).status, 200);
    emu.setPolicy('kv1-create', 'path "kv1/*" { capabilities = ["create"] }');
    const kv1 = tokenFor('kv1-create');
    assert.equal((await call('PUT', 'kv1/e', { token: kv1, body: { a: 1 } })).status, 204);
    assert.equal((await call('PUT', 'kv1/e', { token: kv1, body: { a: 2 } })).status, 403);
  });

  it('needs list on the folder path with a trailing slash', async () => {
    emu.setPolicy('lister', 'path "secret/metadata/l/*" { capabilities = ["list"] }');
    const t = tokenFor('lister');
    await call('POST', 'secret/data/l/a', { body: { data: {} } });
    assert.equal((await call('GET', 'secret/metadata/l?list=true', { token: t })).status, 200);
    assert.equal((await call('GET', 'secret/metadata/l/?list=true', { token: t })).status, 200);
    assert.equal((await call('GET', 'secret/metadata?list=true', { token: t })).status, 403);
    assert.equal((await call('GET', 'secret/metadata/l/a', { token: t })).status, 403);
    emu.setPolicy('leaf', 'path "secret/metadata/l/a" { capabilities = ["list", "read"] }');
    assert.equal((await call('GET', 'secret/metadata/l?list=true', { token: tokenFor('leaf') })).status, 403);
  });

  it('gates the mounts preflight on any capability under the mount', async () => {
    emu.setPolicy('only-secret', 'path "secret/data/deep/+/x" { capabilities = ["read"] }');
    const t = tokenFor('only-secret');
    assert.equal((await call('GET', 'sys/internal/ui/mounts/secret', { token: t })).status, 200);
    const kv1 = await call('GET', 'sys/internal/ui/mounts/kv1/a', { token: t });
    assert.equal(kv1.status, 403);
    assert.match(kv1.body.errors[0], /^preflight capability check returned 403.*"kv1\/a\/"/);
    assert.equal((await call('GET', 'sys/internal/ui/mounts/secret', { token: 'hvs.bad' })).status, 403);
  });

  it('has a default policy for self-service token endpoints', async () => {
    const t = emu.createToken({ policies: [] });
    assert.equal((await call('GET', 'auth/token/lookup-self', { token: t })).status, 200);
    assert.equal(
      (await call('POST', 'sys/capabilities-self', { token: t, body: { paths: ['x'] } })).status,
      200,
    );
    const bare = emu.createToken({ policies: ['glob'], noDefaultPolicy: true });
    assert.equal((await call('GET', 'auth/token/lookup-self', { token: bare })).status, 403);
  });

  it('manages policies over HTTP with the HCL parser', async () => {
    const put = await call('PUT', 'sys/policies/acl/web', {
      body: { policy: 'path "secret/data/web" {\n  capabilities = ["read"]\n}\n' },
    });
    assert.equal(put.status, 204);
    assert.match((await call('GET', 'sys/policies/acl/web')).body.data.policy, /secret\/data\/web/);
    assert.equal(
      (await call('PUT', 'sys/policy/old', { body: { policy: 'path "a" { policy = "read" }' } })).status,
      204,
    );
    assert.deepEqual((await call('GET', 'sys/policy/old')).body.name, 'old');
    const bad = await call('PUT', 'sys/policy/bad', {
      body: { policy: 'path "a" { capabilities = ["fly"] }' },
    });
    assert.equal(bad.status, 400);
    assert.match(bad.body.errors[0], /invalid capability "fly"/);
    assert.equal((await call('PUT', 'sys/policy/root', { body: { policy: 'path "a" {}' } })).status, 400);
    assert.ok((await call('GET', 'sys/policy')).body.policies.includes('web'));
    const t = tokenFor('web');
    assert.equal((await call('GET', 'secret/data/web', { token: t })).status, 404);
    assert.equal((await call('DELETE', 'sys/policy/web')).status, 204);
    assert.equal((await call('GET', 'secret/data/web', { token: t })).status, 403);
  });
});

describe('tokens', () => {
  let emu: VaultEmulator;
  let call: ReturnType<typeof client>;
  before(async () => ({ emu, call } = await withEmulator()));
  after(() => emu.close());

  it('expires tokens and reports them with a plain permission denied', async () => {
    const t = emu.createToken({ policies: ['x'], ttl: 60 });
    const look = await call('GET', 'auth/token/lookup-self', { token: t });
    assert.equal(look.status, 200);
    assert.ok(look.body.data.ttl <= 60 && look.body.data.ttl >= 59);
    assert.deepEqual(look.body.data.policies, ['default', 'x']);
    assert.match(look.body.data.expire_time, TIME);
    emu.advanceTime(61_000);
    const r = await call('GET', 'auth/token/lookup-self', { token: t });
    assert.equal(r.status, 403);
    assert.equal(r.text, '{"errors":["permission denied"]}\n');
    const root = await call('GET', 'auth/token/lookup-self');
    assert.equal(root.body.data.expire_time, null);
    assert.equal(root.body.data.ttl, 0);
  });

  it('renews up to the max TTL, refuses non-renewable tokens, revokes itself', async () => {
    const t = emu.createToken({ ttl: '60s', explicitMaxTtl: '2m' });
    const r = await call('POST', 'auth/token/renew-self', { token: t, body: { increment: '1h' } });
    assert.equal(r.status, 200);
    assert.equal(r.body.auth.client_token, t);
    assert.ok(r.body.auth.lease_duration <= 120 && r.body.auth.lease_duration >= 118);
    assert.match(
      r.body.warnings[0],
      /^TTL of "1h0m0s" exceeded the effective max_ttl of "2m0s"; TTL value is capped/,
    );
    emu.advanceTime(90_000);
    assert.equal((await call('GET', 'auth/token/lookup-self', { token: t })).status, 200);
    emu.advanceTime(40_000);
    assert.equal((await call('GET', 'auth/token/lookup-self', { token: t })).status, 403);
    const fixed = emu.createToken({ ttl: 60, renewable: false });
    assert.deepEqual((await call('POST', 'auth/token/renew-self', { token: fixed })).body, {
      errors: ['lease is not renewable'],
    });
    assert.equal((await call('POST', 'auth/token/renew-self')).status, 400);
    assert.equal((await call('POST', 'auth/token/revoke-self', { token: fixed })).status, 204);
    assert.equal((await call('GET', 'auth/token/lookup-self', { token: fixed })).status, 403);
  });

  it('counts uses, creates child tokens over HTTP within the parent policies', async () => {
    const t = emu.createToken({ numUses: 2 });
    assert.equal((await call('GET', 'auth/token/lookup-self', { token: t })).status, 200);
    assert.equal((await call('GET', 'auth/token/lookup-self', { token: t })).status, 200);
    assert.equal((await call('GET', 'auth/token/lookup-self', { token: t })).status, 403);
    const created = await call('POST', 'auth/token/create', { body: { policies: ['a', 'b'], ttl: '1h' } });
    assert.equal(created.status, 200);
    assert.equal(created.body.data, null);
    assert.deepEqual(created.body.auth.policies, ['a', 'b', 'default']);
    assert.equal(created.body.auth.lease_duration, 3600);
    assert.match(created.body.auth.client_token, /^hvs\./);
    emu.setPolicy('a', 'path "auth/token/create" { capabilities = ["update"] }');
    const child = created.body.auth.client_token as string;
    const sub = await call('POST', 'auth/token/create', { token: child, body: { policies: ['a'] } });
    assert.equal(sub.status, 200);
    const escalate = await call('POST', 'auth/token/create', { token: child, body: { policies: ['c'] } });
    assert.deepEqual(escalate.body, { errors: ['child policies must be subset of parent'] });
  });

  it('can answer bad tokens the Vault 1.17 way', async () => {
    const { emu: e2, call: c2 } = await withEmulator({ invalidTokenStyle: 'vault-1.17' });
    try {
      const r = await c2('GET', 'secret/data/x', { token: 'hvs.unknown' });
      assert.equal(r.status, 403);
      assert.deepEqual(r.body, { errors: ['permission denied', 'invalid token'] });
      assert.equal(e2.rootToken.startsWith('hvs.'), true);
    } finally {
      await e2.close();
    }
  });
});

describe('logins', () => {
  let emu: VaultEmulator;
  let call: ReturnType<typeof client>;
  before(async () => ({ emu, call } = await withEmulator()));
  after(() => emu.close());

  it('logs in with AppRole and rejects bad credentials', async () => {
    emu.setPolicy('issuer', 'path "secret/data/certs/*" { capabilities = ["create", "read"] }');
    const { roleId, secretId } = emu.addAppRole({ name: 'issuer', policies: ['issuer'], ttl: '1h' });
    const r = await call('POST', 'auth/approle/login', {
      token: 'garbage',
      body: { role_id: roleId, secret_id: secretId },
    });
    assert.equal(r.status, 200);
    assert.equal(r.body.data, null);
    assert.equal(r.body.lease_duration, 0);
    const auth = r.body.auth;
    assert.deepEqual(auth.policies, ['default', 'issuer']);
    assert.deepEqual(auth.token_policies, ['default', 'issuer']);
    assert.deepEqual(auth.metadata, { role_name: 'issuer' });
    assert.equal(auth.lease_duration, 3600);
    assert.equal(auth.renewable, true);
    assert.equal(auth.token_type, 'service');
    assert.equal(auth.orphan, true);
    const token = auth.client_token as string;
    assert.equal((await call('GET', 'secret/data/certs/a', { token })).status, 404);
    assert.equal(
      (await call('GET', 'auth/token/lookup-self', { token })).body.data.path,
      'auth/approle/login',
    );
    const bad = await call('POST', 'auth/approle/login', { body: { role_id: roleId, secret_id: 'nope' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.text, '{"errors":["invalid role or secret ID"]}\n');
    assert.deepEqual((await call('POST', 'auth/approle/login', { body: {} })).body, {
      errors: ['missing role_id'],
    });
    assert.deepEqual((await call('POST', 'auth/approle/login', { body: { role_id: roleId } })).body, {
      errors: ['missing secret_id'],
    });
  });

  it('delivers a response-wrapped secret id that unwraps once', async () => {
    const { roleId } = emu.addAppRole({ name: 'wrapped', policies: [] });
    const wrapping = emu.wrappedSecretId('wrapped');
    const un = await call('POST', 'sys/wrapping/unwrap', { token: wrapping });
    assert.equal(un.status, 200);
    const secretId = un.body.data.secret_id as string;
    assert.equal(
      (await call('POST', 'auth/approle/login', { body: { role_id: roleId, secret_id: secretId } })).status,
      200,
    );
    const again = await call('POST', 'sys/wrapping/unwrap', { token: wrapping });
    assert.equal(again.status, 400);
    assert.deepEqual(again.body, { errors: ['wrapping token is not valid or does not exist'] });
    const viaHttp = await call('POST', 'auth/approle/role/wrapped/secret-id', {
      headers: { 'X-Vault-Wrap-TTL': '60s' },
    });
    assert.equal(viaHttp.status, 200);
    assert.equal(viaHttp.body.data, null);
    assert.equal(viaHttp.body.wrap_info.ttl, 60);
    assert.equal(viaHttp.body.wrap_info.creation_path, 'auth/approle/role/wrapped/secret-id');
    const byBody = await call('POST', 'sys/wrapping/unwrap', {
      body: { token: viaHttp.body.wrap_info.token },
    });
    assert.match(byBody.body.data.secret_id, /^[0-9a-f-]{36}$/);
    const plain = emu.wrap({ hello: 'world' });
    assert.deepEqual((await call('POST', 'sys/wrapping/unwrap', { token: plain })).body.data, {
      hello: 'world',
    });
  });

  it('logs in with Kubernetes service-account tokens signed by the test key', async () => {
    emu.addJwtRole({
      mount: 'kubernetes',
      name: 'web',
      policies: ['issuer'],
      boundServiceAccountNames: ['certvault'],
      namespaces: ['prod'],
      ttl: 600,
    });
    const good = await emu.serviceAccountJwt({ namespace: 'prod', name: 'certvault', uid: 'u-1' });
    const r = await call('POST', 'auth/kubernetes/login', { token: null, body: { role: 'web', jwt: good } });
    assert.equal(r.status, 200);
    assert.equal(r.body.auth.metadata.service_account_name, 'certvault');
    assert.equal(r.body.auth.metadata.service_account_namespace, 'prod');
    assert.equal(r.body.auth.metadata.service_account_uid, 'u-1');
    assert.equal(r.body.auth.metadata.role, 'web');
    assert.equal(r.body.auth.lease_duration, 600);
    const projected = await emu.signJwt({
      sub: 'system:serviceaccount:prod:certvault',
      'kubernetes.io': { namespace: 'prod', serviceaccount: { name: 'certvault', uid: 'u-2' } },
    });
    assert.equal(
      (await call('POST', 'auth/kubernetes/login', { body: { role: 'web', jwt: projected } })).status,
      200,
    );
    const login = (jwt: string, role = 'web') =>
      call('POST', 'auth/kubernetes/login', { body: { role, jwt } });
    const untrusted = await emu.signJwt({ sub: 'x' }, { untrusted: true });
    const forged = await login(untrusted);
    assert.equal(forged.status, 403);
    assert.equal(forged.text, '{"errors":["permission denied"]}\n');
    const otherName = await login(await emu.serviceAccountJwt({ namespace: 'prod', name: 'intruder' }));
    assert.deepEqual(
      [otherName.status, otherName.body],
      [403, { errors: ['service account name not authorized'] }],
    );
    const otherNs = await login(await emu.serviceAccountJwt({ namespace: 'dev', name: 'certvault' }));
    assert.deepEqual([otherNs.status, otherNs.body], [403, { errors: ['namespace not authorized'] }]);
    assert.deepEqual((await login(good, 'nope')).body, { errors: ['invalid role name "nope"'] });
    assert.deepEqual((await login('', 'web')).body, { errors: ['missing jwt'] });
    assert.deepEqual((await login(good, '')).body, { errors: ['missing role'] });
    emu.advanceTime(10 * 60_000);
    assert.equal((await login(good)).status, 403);
  });

  it('logs in with JWTs: bound subject/audience, default role, bad tokens', async () => {
    const login = (body: object) => call('POST', 'auth/jwt/login', { token: null, body });
    const jwt = await emu.signJwt({ sub: 'repo:certvault', aud: 'vault' });
    assert.deepEqual((await login({ jwt })).body, { errors: ['missing role'] });
    emu.addJwtRole({
      mount: 'jwt',
      name: 'ci',
      policies: ['issuer'],
      boundSubject: 'repo:certvault',
      boundAudiences: ['vault'],
    });
    const r = await login({ role: 'ci', jwt });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.auth.metadata, { role: 'ci' });
    assert.deepEqual(r.body.auth.policies, ['default', 'issuer']);
    const wrongSub = await login({ role: 'ci', jwt: await emu.signJwt({ sub: 'repo:other', aud: 'vault' }) });
    assert.equal(wrongSub.status, 400);
    assert.match(wrongSub.body.errors[0], /sub claim does not match bound subject/);
    const wrongAud = await login({ role: 'ci', jwt: await emu.signJwt({ sub: 'repo:certvault', aud: 'x' }) });
    assert.equal(wrongAud.status, 400);
    const forged = await login({
      role: 'ci',
      jwt: await emu.signJwt({ sub: 'repo:certvault', aud: 'vault' }, { untrusted: true }),
    });
    assert.equal(forged.status, 400);
    assert.match(forged.body.errors[0], /^error validating token: /);
    assert.deepEqual((await login({ role: 'nope', jwt })).body, {
      errors: ['role "nope" could not be found'],
    });
    assert.deepEqual((await login({ role: 'ci' })).body, { errors: ['missing token'] });
    emu.addJwtRole({ mount: 'jwt', name: 'any', policies: [], boundAudiences: ['vault'], isDefault: true });
    assert.equal((await login({ jwt })).status, 200);
    emu.advanceTime(10 * 60_000);
    assert.match((await login({ role: 'ci', jwt })).body.errors[0], /^error validating token: /);
  });
});
