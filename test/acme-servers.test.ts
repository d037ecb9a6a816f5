import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CertvaultError } from '../src/errors.js';
import { KNOWN_SERVERS, resolveServer } from '../src/acme/index.js';

test('short names resolve to their directory and keep the name as ID', () => {
  assert.deepEqual(resolveServer(), {
    id: 'letsencrypt',
    url: 'https://acme-v02.api.letsencrypt.org/directory',
  });
  assert.deepEqual(resolveServer('  '), resolveServer('letsencrypt'));
  assert.deepEqual(resolveServer('LetsEncrypt-Staging'), {
    id: 'letsencrypt-staging',
    url: 'https://acme-staging-v02.api.letsencrypt.org/directory',
  });
  assert.equal(resolveServer('zerossl').url, 'https://acme.zerossl.com/v2/DV90');
  assert.equal(resolveServer('google').url, 'https://dv.acme-v02.api.pki.goog/directory');
  assert.equal(resolveServer('buypass').url, 'https://api.buypass.com/acme/directory');
  for (const [id, url] of Object.entries(KNOWN_SERVERS)) assert.deepEqual(resolveServer(url), { id, url });
});

test('other URLs get a stable slug ID', () => {
  assert.deepEqual(resolveServer('https://127.0.0.1:14000/dir'), {
    id: '127.0.0.1-14000-dir',
    url: 'https://127.0.0.1:14000/dir',
  });
  assert.deepEqual(resolveServer('https://ACME.Example.com/acme/directory/'), {
    id: 'acme.example.com-acme-directory',
    url: 'https://acme.example.com/acme/directory/',
  });
  assert.equal(resolveServer('http://localhost:4001/directory').id, 'localhost-4001-directory');
});

test('bad input is a config error with a hint', () => {
  const isConfig = (re: RegExp) => (e: unknown) =>
    e instanceof CertvaultError && e.kind === 'config' && re.test(e.line);
  assert.throws(
    () => resolveServer('letsencrpyt'),
    isConfig(/unknown ACME server "letsencrpyt"; use one of letsencrypt, /),
  );
  assert.throws(() => resolveServer('ftp://ca.example/dir'), isConfig(/must be https:\/\//));
  assert.throws(
    () => resolveServer('https://user:pw@ca.example/dir'),
    isConfig(/must not contain credentials/),
  );
  assert.throws(() => resolveServer('https://'), isConfig(/not a valid URL/));
});
