import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, stat, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileKv, prepareRoot } from '../src/store/file-kv.js';
import { StateStore } from '../src/store/store.js';
import { CasConflictError } from '../src/vault/errors.js';
import { makeCert } from './support/certs.js';

async function freshStore() {
  const root = await mkdtemp(join(tmpdir(), 'cv-file-'));
  await prepareRoot(root);
  return { root, kv: new FileKv(root), store: new StateStore(new FileKv(root), '', `file:${root}`) };
}

test('files are 0600 and folders 0700', async () => {
  const { root, store } = await freshStore();
  const c = await makeCert(['a.example.com']);
  await store.putCertificate('a.example.com', c, 0);
  assert.equal((await stat(root)).mode & 0o777, 0o700);
  assert.equal((await stat(join(root, 'certificates'))).mode & 0o777, 0o700);
  assert.equal((await stat(join(root, 'certificates', 'a.example.com.json'))).mode & 0o777, 0o600);
});

test('check-and-set: a stale version is refused and nothing is overwritten', async () => {
  const { kv } = await freshStore();
  assert.equal(await kv.write('x/y', { v: 1 }, { cas: 0 }), 1);
  assert.equal(await kv.write('x/y', { v: 2 }, { cas: 1 }), 2);
  await assert.rejects(kv.write('x/y', { v: 3 }, { cas: 1 }), CasConflictError);
  await assert.rejects(kv.write('x/y', { v: 3 }, { cas: 0 }), CasConflictError);
  assert.deepEqual((await kv.read('x/y'))?.data, { v: 2 });
});

test('concurrent check-and-set writers: exactly one wins per version', async () => {
  const { kv } = await freshStore();
  await kv.write('race', { n: 0 }, { cas: 0 });
  const results = await Promise.allSettled(
    Array.from({ length: 20 }, (_, i) => kv.write('race', { n: i }, { cas: 1 })),
  );
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  assert.equal((await kv.read('race'))?.version, 2);
});

test('writes are atomic: no temp or lock files are left and readers never see partial JSON', async () => {
  const { root, kv } = await freshStore();
  const big = { blob: 'x'.repeat(200_000) };
  const writers = Array.from({ length: 10 }, () => kv.write('atomic', big));
  const readers = Array.from({ length: 50 }, async () => {
    const e = await kv.read('atomic');
    if (e) assert.equal((e.data.blob as string).length, 200_000);
  });
  await Promise.all([...writers, ...readers]);
  assert.deepEqual(await readdir(root).then((f) => f.filter((n) => n !== '.certvault')), ['atomic.json']);
  JSON.parse(await readFile(join(root, 'atomic.json'), 'utf8'));
});

test('list returns sorted keys with folders marked, and nothing for a missing folder', async () => {
  const { kv } = await freshStore();
  await kv.write('f/b', {});
  await kv.write('f/a', {});
  await kv.write('f/a/deeper', {});
  assert.deepEqual(await kv.list('f'), ['a', 'a/', 'b']);
  assert.deepEqual(await kv.list('nothing'), []);
});

test('certificate round trip keeps facts in metadata and material together', async () => {
  const { store } = await freshStore();
  const c = await makeCert(['*.w.example.com', 'w.example.com']);
  const v = await store.putCertificate('w.example.com', c, 0);
  const summary = await store.getCertificateSummary('w.example.com');
  assert.equal(summary?.source, 'metadata');
  assert.deepEqual(summary?.domains, ['*.w.example.com', 'w.example.com']);
  assert.equal(summary?.version, v);
  const full = await store.getCertificate('w.example.com');
  assert.equal(full?.material.privkey, c.privkey);
  assert.equal(full?.material.fullchain, c.fullchain);
  await assert.rejects(store.putCertificate('w.example.com', c, 0), CasConflictError);
});

test('invalid names are refused before any write', async () => {
  const { store } = await freshStore();
  const c = await makeCert(['ok.example.com']);
  await assert.rejects(store.putCertificate('../evil', c, 0), /invalid certificate name "..\/evil"/);
  await assert.rejects(store.putCertificate('a/b', c, 0), /invalid certificate name/);
});
