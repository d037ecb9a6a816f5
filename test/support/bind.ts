import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { query, txtValues } from '../../src/dns/query.js';

/**
 * A throw-away BIND 9 on 127.0.0.1 for tests (and as Pebble's -dnsserver). Zones:
 * - example.test: `*.example.test A 127.0.0.1`, NS ns1.example.test (127.0.0.1), and
 *   `_acme-challenge.delegated.example.test CNAME delegated-example.acme-delegate.test.`
 * - acme-delegate.test: the CNAME target zone.
 * Both keys may update TXT anywhere below both zones, except below `locked.example.test`
 * (so tests can provoke REFUSED). Tests share the zones: use unique names (`t<random>.example.test`).
 */

export interface BindKey {
  name: string;
  /** base64 */
  secret: string;
  algorithm: 'hmac-sha256' | 'hmac-sha512';
}

export interface BindServer {
  host: '127.0.0.1';
  port: number;
  zones: { example: string; delegate: string };
  /** The delegated challenge name and where its CNAME points. */
  cname: { name: string; target: string };
  /** A delegated challenge name whose target is in the same zone, so BIND answers the whole chain
   *  and a CA querying this server (Pebble, no recursion) can validate through it. */
  cnameInZone: { name: string; target: string };
  /** A zone name where updates are REFUSED by policy. */
  lockedName: string;
  keys: { sha256: BindKey; sha512: BindKey };
  /** Joined TXT values at `name`, asked directly (RD=0). */
  txt(name: string): Promise<string[]>;
  /** A fresh unique label, e.g. `t3f9a1c2e`. */
  unique(): string;
  stop(): Promise<void>;
}

const ZONES = { example: 'example.test', delegate: 'acme-delegate.test' };
const CNAME = {
  name: '_acme-challenge.delegated.example.test',
  target: 'delegated-example.acme-delegate.test',
};
const CNAME_IN_ZONE = {
  name: '_acme-challenge.alias.example.test',
  target: 'alias.challenges.example.test',
};

export async function startBind(): Promise<BindServer> {
  const dir = await mkdtemp(join(tmpdir(), 'certvault-bind-'));
  const keys = {
    sha256: {
      name: 'certvault-sha256',
      secret: randomBytes(32).toString('base64'),
      algorithm: 'hmac-sha256' as const,
    },
    sha512: {
      name: 'certvault-sha512',
      secret: randomBytes(64).toString('base64'),
      algorithm: 'hmac-sha512' as const,
    },
  };
  const port = await freePort();
  await writeFile(join(dir, 'named.conf'), namedConf(dir, port, keys));
  await writeFile(
    join(dir, `${ZONES.example}.db`),
    zoneFile(ZONES.example, [
      '@ IN A 127.0.0.1',
      '* IN A 127.0.0.1',
      `_acme-challenge.delegated IN CNAME ${CNAME.target}.`,
      `_acme-challenge.alias IN CNAME ${CNAME_IN_ZONE.target}.`,
    ]),
  );
  await writeFile(join(dir, `${ZONES.delegate}.db`), zoneFile(ZONES.delegate, []));

  const child = spawn('/usr/sbin/named', ['-g', '-4', '-n', '1', '-c', join(dir, 'named.conf')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-8000)));
  const server = { host: '127.0.0.1' as const, port };
  const stop = async () => {
    await stopChild(child);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitReady(child, server, () => log);
  } catch (err) {
    await stop();
    throw err;
  }
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  let counter = 0;
  return {
    ...server,
    zones: ZONES,
    cname: CNAME,
    cnameInZone: CNAME_IN_ZONE,
    lockedName: `locked.${ZONES.example}`,
    keys,
    txt: async (name) => txtValues(await query(server, name, 'TXT', { rd: false, timeoutMs: 1000 }), name),
    unique: () => `t${randomBytes(4).toString('hex')}${(counter++).toString(36)}`,
    stop: async () => {
      process.removeListener('exit', kill);
      await stop();
    },
  };
}

function namedConf(dir: string, port: number, keys: Record<string, BindKey>): string {
  const keyStatements = Object.values(keys)
    .map((k) => `key "${k.name}" { algorithm ${k.algorithm}; secret "${k.secret}"; };`)
    .join('\n');
  const policy = Object.values(keys)
    .flatMap((k) => [
      `deny ${k.name} subdomain locked.${ZONES.example}. ANY;`,
      ...Object.values(ZONES).map((z) => `grant ${k.name} subdomain ${z}. TXT;`),
    ])
    .join('\n    ');
  const zones = Object.values(ZONES)
    .map(
      (z) =>
        `zone "${z}" { type primary; file "${join(dir, `${z}.db`)}"; update-policy {\n    ${policy}\n  }; };`,
    )
    .join('\n');
  return `${keyStatements}
options {
  directory "${dir}";
  listen-on port ${port} { 127.0.0.1; };
  listen-on-v6 { none; };
  pid-file "${join(dir, 'named.pid')}";
  session-keyfile "${join(dir, 'session.key')}";
  managed-keys-directory "${dir}";
  recursion no;
  dnssec-validation no;
  notify no;
};
controls { };
${zones}
`;
}

function zoneFile(zone: string, records: string[]): string {
  return [
    '$TTL 60',
    `@ IN SOA ns1.${zone}. hostmaster.${zone}. 1 3600 600 86400 1`,
    `@ IN NS ns1.${zone}.`,
    'ns1 IN A 127.0.0.1',
    ...records,
    '',
  ].join('\n');
}

/** A port free for both UDP and TCP on 127.0.0.1 right now. */
async function freePort(): Promise<number> {
  for (let tries = 0; tries < 20; tries++) {
    const udp = createSocket('udp4');
    const port = await new Promise<number>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(0, '127.0.0.1', () => resolve(udp.address().port));
    });
    const tcpFree = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    await new Promise<void>((r) => udp.close(() => r()));
    if (tcpFree) return port;
  }
  throw new Error('no free port for BIND');
}

async function waitReady(child: ChildProcess, server: { host: string; port: number }, log: () => string) {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`named exited with code ${child.exitCode}:\n${log()}`);
    try {
      const res = await query(server, ZONES.example, 'SOA', { rd: false, timeoutMs: 100, attempts: 1 });
      if (res.rcode === 0 && res.answers.some((a) => a.type === 'SOA')) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`named did not answer within 10 s:\n${log()}`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}
