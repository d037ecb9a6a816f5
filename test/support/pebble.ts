// Test harness: a private Pebble ACME server (and pebble-challtestsrv as a scriptable DNS server) on
// 127.0.0.1 with free high ports, a throwaway TLS certificate and a config in a temp dir.
import 'reflect-metadata';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, webcrypto } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import * as x509 from '@peculiar/x509';
import { Agent } from 'undici';

const PEBBLE_BIN = process.env.PEBBLE_BIN ?? 'pebble';
const CHALLTESTSRV_BIN = process.env.CHALLTESTSRV_BIN ?? 'pebble-challtestsrv';
const START_TIMEOUT_MS = 20_000;

export interface PebbleOptions {
  /** DNS server Pebble's VA queries, "host:port" (challtestsrv in our tests, BIND later). */
  dnsServer: string;
  /** Percentage of good nonces Pebble rejects as badNonce (PEBBLE_WFE_NONCEREJECT); default 0. */
  nonceReject?: number;
  /** Number of alternate root chains (PEBBLE_ALTERNATE_ROOTS); default 0. */
  alternateRoots?: number;
  /** Require external account binding; the handle then carries EAB credentials. */
  eab?: boolean;
  /** Percentage of valid authorizations Pebble reuses (PEBBLE_AUTHZREUSE); default 0 for repeatable tests. */
  authzReuse?: number;
  /** Domains Pebble refuses to issue for (config domainBlocklist). */
  blockedDomains?: string[];
}

export interface PebbleHandle {
  directoryUrl: string;
  /** CA certificate (PEM) that Pebble's HTTPS listener chains to; trust it for the ACME connection. */
  caCertPem: string;
  managementUrl: string;
  /** EAB credentials known to Pebble when started with `eab: true`. */
  eabKeys: { kid: string; hmacKey: string }[];
  /** PEM of Pebble's issuing root `index` (0 = default chain), from the management API. */
  rootPem(index?: number): Promise<string>;
  logs(): string;
  /** Orders Pebble created since start, counted from its log lines. */
  countOrders(): number;
  stop(): Promise<void>;
}

export async function startPebble(options: PebbleOptions): Promise<PebbleHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'certvault-pebble-'));
  const [acmePort, mgmtPort, httpPort, tlsPort] = await freePorts(4);
  const tls = await makeTlsCertificate();
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  writeFileSync(certPath, tls.certPem);
  writeFileSync(keyPath, tls.keyPem, { mode: 0o600 });

  const eabKeys = options.eab
    ? [1, 2].map((n) => ({ kid: `kid-${n}`, hmacKey: randomBytes(32).toString('base64url') }))
    : [];
  const config = {
    pebble: {
      listenAddress: `127.0.0.1:${acmePort}`,
      managementListenAddress: `127.0.0.1:${mgmtPort}`,
      certificate: certPath,
      privateKey: keyPath,
      httpPort,
      tlsPort,
      ocspResponderURL: '',
      externalAccountBindingRequired: options.eab === true,
      ...(options.eab
        ? { externalAccountMACKeys: Object.fromEntries(eabKeys.map((k) => [k.kid, k.hmacKey])) }
        : {}),
      ...(options.blockedDomains ? { domainBlocklist: options.blockedDomains } : {}),
    },
  };
  const configPath = join(dir, 'pebble-config.json');
  writeFileSync(configPath, JSON.stringify(config, null, 2));

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PEBBLE_VA_NOSLEEP: '1',
    PEBBLE_WFE_NONCEREJECT: String(options.nonceReject ?? 0),
    PEBBLE_AUTHZREUSE: String(options.authzReuse ?? 0),
  };
  delete env.PEBBLE_VA_ALWAYS_VALID;
  delete env.PEBBLE_ALTERNATE_ROOTS;
  if (options.alternateRoots) env.PEBBLE_ALTERNATE_ROOTS = String(options.alternateRoots);

  const proc = startProcess(PEBBLE_BIN, ['-config', configPath, '-dnsserver', options.dnsServer], env);
  const directoryUrl = `https://127.0.0.1:${acmePort}/dir`;
  const managementUrl = `https://127.0.0.1:${mgmtPort}`;
  const agent = new Agent({ connect: { ca: tls.certPem } });
  const get = (url: string) => fetch(url, { dispatcher: agent } as RequestInit);

  const stop = async () => {
    await proc.stop();
    await agent.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(`Pebble at ${directoryUrl}`, proc, async () => (await get(directoryUrl)).ok);
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    directoryUrl,
    caCertPem: tls.certPem,
    managementUrl,
    eabKeys,
    async rootPem(index = 0) {
      const res = await get(`${managementUrl}/roots/${index}`);
      if (!res.ok) throw new Error(`pebble /roots/${index}: HTTP ${res.status}`);
      return res.text();
    },
    logs: () => proc.output(),
    countOrders: () => proc.output().match(/Added order /g)?.length ?? 0,
    stop,
  };
}

export interface ChallTestSrvHandle {
  /** "127.0.0.1:port", to pass as Pebble's dnsServer. */
  dnsServer: string;
  managementUrl: string;
  /** Adds one TXT value at `name`; repeated calls add more values at the same name. */
  addTxt(name: string, value: string): Promise<void>;
  clearTxt(name: string): Promise<void>;
  logs(): string;
  stop(): Promise<void>;
}

/** pebble-challtestsrv as a mock DNS server only (HTTP-01/TLS-ALPN-01 servers disabled). */
export async function startChallTestSrv(): Promise<ChallTestSrvHandle> {
  const [dnsPort, mgmtPort] = await freePorts(2);
  const dnsServer = `127.0.0.1:${dnsPort}`;
  const managementUrl = `http://127.0.0.1:${mgmtPort}`;
  // This Debian build has no -doh flag; the remaining servers are switched off explicitly.
  const args = [
    '-http01',
    '',
    '-https01',
    '',
    '-tlsalpn01',
    '',
    '-dns01',
    dnsServer,
    '-management',
    `127.0.0.1:${mgmtPort}`,
  ];
  const proc = startProcess(CHALLTESTSRV_BIN, args, process.env);
  const post = async (path: string, body: object) => {
    const res = await fetch(`${managementUrl}${path}`, { method: 'POST', body: JSON.stringify(body) });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`challtestsrv ${path}: HTTP ${res.status}`);
  };
  try {
    await waitFor(`challtestsrv at ${managementUrl}`, proc, async () => {
      await (await fetch(`${managementUrl}/`)).arrayBuffer();
      return true;
    });
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return {
    dnsServer,
    managementUrl,
    addTxt: (name, value) => post('/set-txt', { host: fqdn(name), value }),
    clearTxt: (name) => post('/clear-txt', { host: fqdn(name) }),
    logs: () => proc.output(),
    stop: () => proc.stop(),
  };
}

const fqdn = (name: string) => (name.endsWith('.') ? name : `${name}.`);

interface RunningProcess {
  child: ChildProcess;
  exited: boolean;
  output(): string;
  stop(): Promise<void>;
}

function startProcess(bin: string, args: string[], env: NodeJS.ProcessEnv): RunningProcess {
  const child = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: string[] = [];
  child.stdout?.on('data', (d: Buffer) => chunks.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => chunks.push(d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', (err) => chunks.push(`spawn error: ${err.message}\n`));
  // Never leave a server behind if the test process dies without calling stop().
  const onExit = () => child.kill('SIGKILL');
  process.once('exit', onExit);
  const handle: RunningProcess = {
    child,
    exited: false,
    output: () => chunks.join(''),
    async stop() {
      process.removeListener('exit', onExit);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
  void exited.then(() => (handle.exited = true));
  return handle;
}

async function waitFor(what: string, proc: RunningProcess, probe: () => Promise<boolean>): Promise<void> {
  const until = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < until) {
    if (proc.exited || proc.child.exitCode !== null) {
      throw new Error(`${what} exited during start-up:\n${proc.output()}`);
    }
    try {
      if (await probe()) return;
    } catch {
      // Not listening yet.
    }
    await delay(100);
  }
  throw new Error(`${what} did not answer within ${START_TIMEOUT_MS / 1000}s:\n${proc.output()}`);
}

/** Free TCP ports on 127.0.0.1: bind port 0, note the port, release it. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => {
      return new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
        const server = createServer();
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve(server));
      });
    }),
  );
  const ports = servers.map((s) => {
    const addr = s.address();
    if (addr === null || typeof addr === 'string') throw new Error('no port');
    return addr.port;
  });
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/** Self-signed P-256 certificate for 127.0.0.1/localhost, valid one day; it is its own trust anchor. */
async function makeTlsCertificate(): Promise<{ certPem: string; keyPem: string }> {
  type ProviderCrypto = NonNullable<Parameters<typeof x509.cryptoProvider.set>[1]>;
  x509.cryptoProvider.set(webcrypto as unknown as ProviderCrypto);
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as unknown as Parameters<
    typeof x509.X509CertificateGenerator.createSelfSigned
  >[0]['keys'];
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomBytes(8)
      .toString('hex')
      .replace(/^[89a-f]/, '1'),
    name: 'CN=certvault test Pebble',
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 24 * 3600_000),
    keys,
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        { type: 'ip', value: '127.0.0.1' },
        { type: 'dns', value: 'localhost' },
      ]),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey as unknown as webcrypto.CryptoKey);
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${Buffer.from(pkcs8)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')}\n-----END PRIVATE KEY-----\n`;
  return { certPem: cert.toString('pem'), keyPem: keyPem.replace(/\n\n/g, '\n') };
}
