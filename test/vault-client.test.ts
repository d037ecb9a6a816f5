import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { VaultClient } from '../src/vault/client.js';
import { CasConflictError, VaultError } from '../src/vault/errors.js';
import { detectMount, kvFor } from '../src/vault/kv.js';
import { testVault, type TestVault } from './support/vault.js';
import { createServer } from 'node:net';

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

let v: TestVault;
before(async () => {
  v = await testVault();
});
after(() => v.close());

const client = (over: Partial<ConstructorParameters<typeof VaultClient>[0]> = {}) =>
  new VaultClient({ addr: v.addr, token: () => v.token, namespace: v.namespace, retryBaseMs: 5, ...over });

test('detects KV v2 and KV v1 mounts', async () => {
  assert.deepEqual(await detectMount(client(), `${v.mount}/${v.prefix}`), {
    mount: v.mount,
    version: 2,
    type: 'kv',
  });
  if (!v.kv1Mount) return;
  assert.equal((await detectMount(client(), `${v.kv1Mount}/${v.prefix}`)).version, 1);
});

test('KV v2 check-and-set: a stale version is a conflict, nothing is overwritten', async () => {
  const kv = kvFor(client(), v.mount, 2);
  const path = `${v.prefix}/cas`;
  assert.equal(await kv.write(path, { n: 1 }, { cas: 0 }), 1);
  await assert.rejects(
    kv.write(path, { n: 2 }, { cas: 0 }),
    (err) => err instanceof CasConflictError && /conflict/.test(err.message),
  );
  assert.equal(await kv.write(path, { n: 2 }, { cas: 1 }), 2);
  assert.deepEqual((await kv.read(path))?.data, { n: 2 });
});

test('tells the 404 kinds apart', async () => {
  const c = client();
  const absent = await c.request({ method: 'GET', path: `${v.mount}/data/${v.prefix}/never`, accept: [404] });
  assert.equal(absent.notFound, 'absent');
  const kv = kvFor(c, v.mount, 2);
  await kv.write(`${v.prefix}/gone`, { a: 1 });
  await c.request({ method: 'DELETE', path: `${v.mount}/data/${v.prefix}/gone` });
  const deleted = await c.request({ method: 'GET', path: `${v.mount}/data/${v.prefix}/gone`, accept: [404] });
  assert.equal(deleted.notFound, 'deleted');
  assert.equal(await kv.read(`${v.prefix}/gone`), null);
  assert.equal((await kv.readMetadata(`${v.prefix}/gone`))?.deleted, true);
  const patch = await c.request({
    method: 'PATCH',
    path: `${v.mount}/data/${v.prefix}/never`,
    body: { data: { a: 1 } },
    contentType: 'application/merge-patch+json',
    accept: [404],
  });
  assert.equal(patch.notFound, 'empty');
  const noRoute = await c.request({ method: 'GET', path: `nothing-mounted-here/${v.prefix}`, accept: [404] });
  assert.equal(noRoute.notFound, 'no-route');
  const wrongVersion = await c.request({ method: 'GET', path: `${v.mount}/${v.prefix}/x`, accept: [404] });
  assert.equal(wrongVersion.notFound, 'wrong-kv-version');
});

test('KV v1 mount: read, write, list, delete', async (t) => {
  if (!v.kv1Mount) return t.skip('no KV v1 mount on this server');
  const kv = kvFor(client(), v.kv1Mount, 1);
  await kv.write(`${v.prefix}/a`, { x: '1' });
  await kv.write(`${v.prefix}/dir/b`, { y: '2' });
  assert.deepEqual((await kv.read(`${v.prefix}/a`))?.data, { x: '1' });
  assert.deepEqual(await kv.list(v.prefix), ['a', 'dir/']);
  await kv.destroy(`${v.prefix}/a`);
  assert.equal(await kv.read(`${v.prefix}/a`), null);
});

test('sends X-Vault-Namespace, and namespaces are isolated', async (t) => {
  const emu = v.emulator;
  if (!emu) return t.skip('needs the emulator');
  emu.createNamespace('team-a');
  const c = new VaultClient({ addr: v.addr, token: () => v.token, namespace: 'team-a' });
  const kv = kvFor(c, 'secret', 2);
  await kv.write(`${v.prefix}/ns`, { a: 1 });
  const logged = emu.requests.filter((r) => r.path.includes(`${v.prefix}/ns`));
  assert.ok(logged.length > 0 && logged.every((r) => r.namespace === 'team-a'));
  // Isolated: the root namespace does not see it.
  assert.equal(await kvFor(client(), 'secret', 2).read(`${v.prefix}/ns`), null);
});

test('retries succeed under 30% injected 503s', async (t) => {
  const emu = v.emulator;
  if (!emu) return t.skip('needs the emulator');
  const kv = kvFor(client({ maxRetries: 8 }), v.mount, 2);
  await kv.write(`${v.prefix}/flaky`, { ok: true });
  const fault = emu.addFault({ path: new RegExp(`${v.prefix}/flaky`), status: 503, ratio: 0.3 });
  try {
    for (let i = 0; i < 40; i++) assert.deepEqual((await kv.read(`${v.prefix}/flaky`))?.data, { ok: true });
  } finally {
    fault();
  }
});

test('gives up with a clear error when Vault stays down', async (t) => {
  const emu = v.emulator;
  if (!emu) return t.skip('needs the emulator');
  const c = client({ maxRetries: 2 });
  const fault = emu.addFault({ path: new RegExp(`${v.prefix}/down`), status: 503 });
  try {
    await assert.rejects(kvFor(c, v.mount, 2).read(`${v.prefix}/down`), (err: unknown) => {
      assert.ok(err instanceof VaultError);
      assert.match(err.message, /failed with 503/);
      assert.match(err.message, new RegExp(`GET ${v.mount}/data/${v.prefix}/down`));
      assert.match(err.hint ?? '', /Vault is failing or unavailable/);
      return true;
    });
  } finally {
    fault();
  }
  const sealed = client({ maxRetries: 1 });
  emu.seal();
  try {
    await assert.rejects(kvFor(sealed, v.mount, 2).read(`${v.prefix}/x`), /sealed/);
  } finally {
    emu.unseal();
  }
});

test('an unreachable Vault names the address and the cause', async () => {
  const port = await closedPort();
  const c = new VaultClient({
    addr: `http://127.0.0.1:${port}`,
    token: () => 't',
    maxRetries: 1,
    retryBaseMs: 1,
  });
  await assert.rejects(
    kvFor(c, 'secret', 2).read('x'),
    new RegExp(`cannot reach Vault at http://127\\.0\\.0\\.1:${port} .*ECONNREFUSED`),
  );
});

test('a 403 names the operation and the path and points at the policy, never the token', async (t) => {
  const emu = v.emulator;
  if (!emu) return t.skip('needs the emulator');
  emu.setPolicy('only-other', 'path "secret/data/other/*" { capabilities = ["read"] }');
  const token = emu.createToken({ policies: ['only-other'] });
  const c = new VaultClient({ addr: v.addr, token: () => token });
  await assert.rejects(kvFor(c, v.mount, 2).read(`${v.prefix}/x`), (err: unknown) => {
    assert.ok(err instanceof VaultError);
    assert.equal(err.status, 403);
    assert.match(err.line, new RegExp(`GET ${v.mount}/data/${v.prefix}/x`));
    assert.match(err.line, /policy/);
    assert.ok(!err.line.includes(token));
    return true;
  });
  const bad = new VaultClient({ addr: v.addr, token: () => 'hvs.not-a-token' });
  await assert.rejects(kvFor(bad, v.mount, 2).read(`${v.prefix}/x`), (err: unknown) => {
    assert.match((err as VaultError).line, /missing, expired or revoked/);
    assert.ok(!(err as VaultError).line.includes('hvs.not-a-token'));
    return true;
  });
});

test('every request carries X-Vault-Request and the token only in X-Vault-Token', async () => {
  const { createServer: createHttp } = await import('node:http');
  const seen: { url: string; headers: Record<string, string | string[] | undefined> }[] = [];
  const srv = createHttp((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[]}\n');
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    const { port } = srv.address() as { port: number };
    const c = new VaultClient({
      addr: `http://127.0.0.1:${port}`,
      token: () => 'hvs.secret-token',
      namespace: 'ns1',
    });
    assert.equal(await kvFor(c, 'secret', 2).read('a/b'), null);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.headers['x-vault-request'], 'true');
    assert.equal(seen[0]?.headers['x-vault-token'], 'hvs.secret-token');
    assert.equal(seen[0]?.headers['x-vault-namespace'], 'ns1');
    assert.equal(seen[0]?.url, '/v1/secret/data/a/b');
  } finally {
    srv.close();
  }
});
