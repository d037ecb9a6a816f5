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
