// Vault over HTTPS with a private CA: verification is on unless the user passes the explicit flag,
// VAULT_CACERT (or --vault-ca-cert) trusts that CA, and Vault CLI's VAULT_SKIP_VERIFY is not honoured.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './support/cli.js';
import { testVault, type TestVault } from './support/vault.js';

let v: TestVault;
let dir: string;
let proxy: Server;
let addr = '';

/** A CA and a certificate for 127.0.0.1 signed by it, made with openssl. */
function makePki(into: string): { ca: string; key: string; cert: string } {
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: into, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  run(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-subj',
    '/CN=certvault test Vault CA',
    '-days',
    '1',
  );
  run('req', ...ec, '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(join(into, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  run(
    'x509',
    '-req',
    '-in',
    'srv.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'srv.pem',
    '-days',
    '1',
    '-extfile',
    'san.ext',
  );
  const read = (f: string) => readFileSync(join(into, f), 'utf8');
  return { ca: join(into, 'ca.pem'), key: read('srv.key'), cert: read('srv.pem') };
}

before(async () => {
  v = await testVault();
  dir = mkdtempSync(join(tmpdir(), 'certvault-tls-'));
  const pki = makePki(dir);
  const upstream = new URL(v.addr);
  if (upstream.protocol !== 'http:') return; // a real Vault already on TLS: the tests skip
  // TLS in front of the test Vault (the emulator speaks plain HTTP on 127.0.0.1).
  proxy = createServer({ key: pki.key, cert: pki.cert }, (req, res) => {
    const out = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        path: req.url,
        method: req.method,
        headers: req.headers,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  addr = `https://127.0.0.1:${(proxy.address() as { port: number }).port}`;
});
after(async () => {
  if (proxy) await new Promise((r) => proxy.close(r));
  rmSync(dir, { recursive: true, force: true });
  await v?.close();
});

const env = (extra: Record<string, string> = {}) => ({
  VAULT_ADDR: addr,
  VAULT_TOKEN: v.token,
  CERTVAULT_VAULT_MOUNT: v.mount,
  CERTVAULT_VAULT_PREFIX: v.prefix,
  ...(v.namespace ? { VAULT_NAMESPACE: v.namespace } : {}),
  ...extra,
});

test("an unknown CA is refused, with a hint naming VAULT_CACERT; Vault CLI's VAULT_SKIP_VERIFY changes nothing", async (t) => {
  if (!addr) return t.skip('the test Vault is already on TLS');
  for (const extra of [{}, { VAULT_SKIP_VERIFY: 'true' }] as Record<string, string>[]) {
    const r = await runCli(['list', '--json'], env(extra));
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /cannot reach Vault at https:\/\/127\.0\.0\.1:\d+/);
    assert.match(r.stderr, /VAULT_CACERT/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test('VAULT_CACERT or --vault-ca-cert trusts the CA; --vault-tls-skip-verify is the explicit way out', async (t) => {
  if (!addr) return t.skip('the test Vault is already on TLS');
  const ca = join(dir, 'ca.pem');
  for (const [args, extra] of [
    [['list', '--json'], { VAULT_CACERT: ca }],
    [['--vault-ca-cert', ca, 'list', '--json'], {}],
    [['--vault-tls-skip-verify', 'list', '--json'], {}],
  ] as const) {
    const r = await runCli([...args], env(extra));
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    assert.deepEqual(JSON.parse(r.stdout), []);
  }
});
