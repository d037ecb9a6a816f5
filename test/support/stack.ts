import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBind, type BindServer } from './bind.js';
import { startPebble, type PebbleHandle, type PebbleOptions } from './pebble.js';

/**
 * The real servers of an end-to-end test: BIND 9 (TSIG-keyed zones accepting updates) and Pebble
 * validating against it. Started once per test file; each test uses its own names.
 */
export interface Stack {
  bind: BindServer;
  pebble: PebbleHandle;
  /** Pebble's HTTPS CA as a file, for `--acme-ca-cert`. */
  acmeCaFile: string;
  /** Directory for per-test files. */
  dir: string;
  /** `host:port` of BIND for `--dns-resolvers` and rfc2136 `server=`. */
  dnsServer: string;
  stop(): Promise<void>;
}

export async function startStack(pebbleOptions: Omit<PebbleOptions, 'dnsServer'> = {}): Promise<Stack> {
  const bind = await startBind();
  const dnsServer = `${bind.host}:${bind.port}`;
  let pebble: PebbleHandle;
  try {
    pebble = await startPebble({ ...pebbleOptions, dnsServer });
  } catch (err) {
    await bind.stop();
    throw err;
  }
  const dir = await mkdtemp(join(tmpdir(), 'certvault-e2e-'));
  const acmeCaFile = join(dir, 'pebble-ca.pem');
  await writeFile(acmeCaFile, pebble.caCertPem);
  return {
    bind,
    pebble,
    acmeCaFile,
    dir,
    dnsServer,
    async stop() {
      await pebble.stop();
      await bind.stop();
    },
  };
}

/**
 * The two commands that set certvault up against this stack: register an account at Pebble (or the
 * `server` in front of it), and
 * store BIND's TSIG credentials under `dnsName` (the secret from $TSIG_SECRET, never in argv).
 */
export function setupCommands(
  stack: Stack,
  opts: { server?: string; email?: string; dnsName?: string } = {},
): { register: string[]; dnsSet: string[] } {
  return {
    register: [
      'account',
      'register',
      '--server',
      opts.server ?? stack.pebble.directoryUrl,
      '--email',
      opts.email ?? 'ops@example.test',
      '--agree-tos',
    ],
    dnsSet: [
      'dns',
      'set',
      opts.dnsName ?? 'bind',
      '--provider',
      'rfc2136',
      `server=${stack.dnsServer}`,
      `tsig-key=${stack.bind.keys.sha256.name}`,
      'tsig-secret=@env:TSIG_SECRET',
    ],
  };
}
